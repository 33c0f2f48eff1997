import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { errorAnswer, randomId, StripeAnswer, type Answer } from "./answers.ts";
import type { Interception, RequestGate } from "./faults.ts";
import type { IdempotencyLayer } from "./idempotency.ts";
import type { KeyRing } from "./keys.ts";
import type { Endpoint, ResourceModule } from "./resource.ts";

/*
 * The double's HTTP side: records each request, lets the gates (faults, limits) stop it, then
 * answers in Stripe's order: authentication (401), routing (404), the key's permission for the
 * resource (403), idempotency for POSTs, the endpoint. Every answer carries `Request-Id` and
 * `Stripe-Version` (the requested version, else the account's).
 */

/** How the double answered a request: an HTTP status, or the fault that left it unanswered. */
export type StripeApiAnswer = number | "hang" | "close";

/** One request as the double saw it. */
export interface RecordedStripeRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  stripeVersion: string | undefined;
  idempotencyKey: string | undefined;
  /** `Stripe-Account`: the connected account a platform's request acts on, if any. */
  stripeAccount: string | undefined;
  /** The form-encoded parameters of a POST (empty for other methods). */
  form: URLSearchParams;
  userAgent: string | undefined;
  /** The SDK's JSON `X-Stripe-Client-User-Agent` (carries `application`, i.e. appInfo). */
  clientUserAgent: string | undefined;
  /** Undefined while the answer is pending. */
  answer: StripeApiAnswer | undefined;
}

export interface RouterOptions {
  keys: KeyRing;
  resources: readonly ResourceModule[];
  gates: readonly RequestGate[];
  idempotency: IdempotencyLayer;
  /** The API version of answers to requests that send no `Stripe-Version`. */
  accountApiVersion: string;
}

export interface StripeApiServer {
  url: string;
  /** Every request so far, oldest first. */
  requests: readonly RecordedStripeRequest[];
  /** Stops the server, dropping open connections (including hung requests). */
  close(): Promise<void>;
}

interface Route {
  resource: ResourceModule;
  endpoint: Endpoint;
  pattern: RegExp;
}

function header(request: IncomingMessage, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function compileRoutes(resources: readonly ResourceModule[]): Route[] {
  return resources.flatMap((resource) =>
    resource.endpoints.map((endpoint) => {
      const literal = endpoint.path.replace(/[.+?^${}()|[\]\\]/g, "\\$&").replace(/:id$/, "([^/]+)");
      return { resource, endpoint, pattern: new RegExp(`^${literal}$`) };
    }),
  );
}

/** Starts the router on a free port of 127.0.0.1. */
export async function serveStripeApi(options: RouterOptions): Promise<StripeApiServer> {
  const { keys, gates, idempotency, accountApiVersion } = options;
  const routes = compileRoutes(options.resources);
  const requests: RecordedStripeRequest[] = [];

  const route = (method: string, path: string): { route: Route; id: string | undefined } | undefined => {
    for (const candidate of routes) {
      if (candidate.endpoint.method !== method) continue;
      const match = candidate.pattern.exec(path);
      if (!match) continue;
      // A malformed escape throws here, and the double answers 500 like any bug of its own.
      return { route: candidate, id: match[1] === undefined ? undefined : decodeURIComponent(match[1]) };
    }
    return undefined;
  };

  const answerRequest = (request: IncomingMessage, record: RecordedStripeRequest): Answer => {
    const authenticated = keys.authenticate(header(request, "authorization"));
    if ("status" in authenticated) return authenticated;
    const { key, live } = authenticated;
    const target = route(record.method, record.path);
    if (target === undefined) {
      return errorAnswer(404, {
        type: "invalid_request_error",
        message:
          `Unrecognized request URL (${record.method}: ${record.path}). ` +
          "Please see https://stripe.com/docs or we can help at https://support.stripe.com/.",
      });
    }
    const { resource, endpoint } = target.route;
    const refusal = keys.refusal(key, resource.resource, resource.permission);
    if (refusal !== undefined) return refusal;
    const call = () => endpoint.answer({ live, id: target.id, query: record.query, form: record.form });
    if (endpoint.method === "POST") return idempotency.apply(record.idempotencyKey, record.form, live, call);
    return call();
  };

  const serve = (request: IncomingMessage, response: ServerResponse, body: string): void => {
    const url = new URL(request.url ?? "/", "http://127.0.0.1");
    const record: RecordedStripeRequest = {
      method: request.method ?? "GET",
      path: url.pathname,
      query: new URLSearchParams(url.searchParams),
      stripeVersion: header(request, "stripe-version"),
      idempotencyKey: header(request, "idempotency-key"),
      stripeAccount: header(request, "stripe-account"),
      form: new URLSearchParams(request.method === "POST" ? body : ""),
      userAgent: header(request, "user-agent"),
      clientUserAgent: header(request, "x-stripe-client-user-agent"),
      answer: undefined,
    };
    requests.push(record);

    const intercepted = gates.reduce<Interception | undefined>((first, gate) => first ?? gate.intercept(record), undefined);
    if (intercepted === "hang") {
      record.answer = "hang";
      return;
    }
    if (intercepted === "close") {
      record.answer = "close";
      request.socket.destroy();
      return;
    }

    let answer: Answer;
    try {
      answer = intercepted ?? answerRequest(request, record);
    } catch (error) {
      // A bug in the double answers 500 with its message instead of crashing the test run.
      answer =
        error instanceof StripeAnswer
          ? error.answer
          : errorAnswer(500, { type: "api_error", message: `Stripe API double failed: ${String(error)}` });
    }
    record.answer = answer.status;
    const text = JSON.stringify(answer.body);
    response.writeHead(answer.status, {
      "Content-Type": "application/json",
      "Content-Length": Buffer.byteLength(text),
      "Request-Id": randomId("req"),
      "Stripe-Version": record.stripeVersion ?? accountApiVersion,
      ...answer.headers,
    });
    response.end(text);
  };

  const server = createServer((request: IncomingMessage, response: ServerResponse) => {
    // The SDK sends no body on GET; whatever comes is read, so the connection stays usable.
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => serve(request, response, Buffer.concat(chunks).toString("utf8")));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      server.off("error", reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close() {
      return new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        // Keep-alive sockets and hung requests would otherwise hold close() open.
        server.closeAllConnections();
      });
    },
  };
}
