import { errorAnswer, StripeAnswer, type Answer } from "./answers.ts";

/**
 * Stripe's idempotency layer for POSTs: a key's first executed answer is kept (per mode) and
 * replayed for the same parameters with `Idempotent-Replayed: true`, creating nothing more;
 * other parameters under the same key are a 400 idempotency_error. Keys never expire here.
 */
export interface IdempotencyLayer {
  apply(key: string | undefined, form: URLSearchParams, live: boolean, execute: () => Answer): Answer;
}

export function createIdempotencyLayer(): IdempotencyLayer {
  // Per mode and key: the parameters first sent with it and the answer given, as Stripe keeps them.
  const kept = new Map<string, { form: string; answer: Answer }>();
  return {
    apply(key, form, live, execute) {
      if (key === undefined) return execute();
      const slot = `${live ? "live" : "test"}:${key}`;
      const sent = [...form].sort(([a], [b]) => a.localeCompare(b)).map(([name, value]) => `${name}=${value}`).join("&");
      const first = kept.get(slot);
      if (first !== undefined) {
        if (first.form !== sent) {
          throw new StripeAnswer(
            errorAnswer(400, {
              type: "idempotency_error",
              message:
                "Keys for idempotent requests can only be used with the same parameters they were first used with. " +
                `Try using a key other than '${key}' if you meant to execute a different request.`,
            }),
          );
        }
        return { ...first.answer, headers: { ...first.answer.headers, "Idempotent-Replayed": "true" } };
      }
      // A request that fails validation throws here and is not kept, as at Stripe.
      const answer = execute();
      kept.set(slot, { form: sent, answer });
      return answer;
    },
  };
}
