import { errorAnswer, type Answer } from "./answers.ts";
import type { StripeApiResource } from "./resource.ts";

/*
 * Authentication as Stripe does it: `Authorization: Bearer <key>` (or HTTP Basic with the key as
 * user name); no key or an unknown key is a 401, a restricted key lacking the resource's
 * permission a 403, with messages that quote the key masked as Stripe does.
 */

/** An API key the double accepts. */
export interface StripeApiKeySpec {
  key: string;
  /**
   * The resources a restricted key (`rk_...`) may read; others answer 403. Omitted: every
   * resource, as for a secret key (`sk_...`, which cannot be restricted).
   */
  canRead?: readonly StripeApiResource[];
}

/** The keys the double accepts and what each may read. */
export interface KeyRing {
  /** Whether the double accepts `key` at all. */
  knows(key: string): boolean;
  /** Sets what `key` may read (undefined: everything); only `rk_` keys can be restricted. */
  restrict(key: string, canRead: readonly StripeApiResource[] | undefined): void;
  /** The key an `Authorization` header presents and its mode, or Stripe's 401. */
  authenticate(authorization: string | undefined): { key: string; live: boolean } | Answer;
  /** Stripe's 403 when `key` may not use `resource`, naming the permission it lacks. */
  refusal(key: string, resource: StripeApiResource, permission: string): Answer | undefined;
}

/** How Stripe quotes a key in its messages: the prefix, stars, the last four characters. */
function maskKey(key: string): string {
  const prefix = /^[a-z]+_(test|live)_/.exec(key)?.[0] ?? "";
  const hidden = Math.max(key.length - prefix.length - 4, 0);
  return `${prefix}${"*".repeat(hidden)}${key.slice(prefix.length + hidden)}`;
}

function presentedKey(authorization: string | undefined): string | undefined {
  if (authorization === undefined) return undefined;
  const bearer = /^Bearer\s+(\S+)$/i.exec(authorization);
  if (bearer) return bearer[1];
  const basic = /^Basic\s+(\S+)$/i.exec(authorization);
  if (!basic?.[1]) return undefined;
  return Buffer.from(basic[1], "base64").toString("utf8").split(":")[0];
}

/** A key ring holding `specs`; `account` is the account named in 403 messages. */
export function createKeyRing(specs: readonly (string | StripeApiKeySpec)[], account: string): KeyRing {
  const keys = new Map<string, readonly StripeApiResource[] | undefined>();
  const restrict = (key: string, canRead: readonly StripeApiResource[] | undefined): void => {
    if (canRead !== undefined && !key.startsWith("rk_")) {
      throw new Error("Only restricted keys (rk_...) can lack permissions; a secret key reads everything.");
    }
    keys.set(key, canRead === undefined ? undefined : [...canRead]);
  };
  for (const spec of specs) {
    if (typeof spec === "string") restrict(spec, undefined);
    else restrict(spec.key, spec.canRead);
  }

  return {
    knows: (key) => keys.has(key),
    restrict,
    authenticate(authorization) {
      const key = presentedKey(authorization);
      if (key === undefined) {
        return errorAnswer(401, {
          type: "invalid_request_error",
          message:
            "You did not provide an API key. You need to provide your API key in the Authorization header, " +
            "using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY'). " +
            "See https://stripe.com/docs/api#authentication for details, or we can help at https://support.stripe.com/.",
        });
      }
      if (!keys.has(key)) {
        return errorAnswer(401, { type: "invalid_request_error", message: `Invalid API Key provided: ${maskKey(key)}` });
      }
      return { key, live: /^[a-z]+_live_/.test(key) };
    },
    refusal(key, resource, permission) {
      const canRead = keys.get(key);
      if (canRead === undefined || canRead.includes(resource)) return undefined;
      return errorAnswer(403, {
        type: "invalid_request_error",
        message:
          `The provided key '${maskKey(key)}' does not have the required permissions for this endpoint on account ` +
          `'${account}'. Having the '${permission}' permission would allow this request to continue.`,
      });
    },
  };
}
