import { randomInt } from "node:crypto";

/** A Stripe object as JSON: the fixtures and the event builders produce these. */
export type StripeObject = Record<string, unknown>;

/** Stripe's error object; `type` is one of the four the API documents. */
export interface StripeErrorBody {
  type: "api_error" | "card_error" | "idempotency_error" | "invalid_request_error";
  message: string;
  code?: string;
  param?: string;
}

/** An answer the double gives: status, Stripe error or object, extra headers. */
export interface Answer {
  status: number;
  body: { error: StripeErrorBody & { doc_url?: string } } | StripeObject;
  headers?: Record<string, string>;
}

/** Thrown from deep inside an endpoint to answer with a Stripe error at once. */
export class StripeAnswer extends Error {
  readonly answer: Answer;
  constructor(answer: Answer) {
    super("answered early");
    this.answer = answer;
  }
}

/** Stripe's error shape, with the `doc_url` Stripe adds to errors that carry a code. */
export function errorAnswer(status: number, error: StripeErrorBody, headers?: Record<string, string>): Answer {
  const docUrl =
    error.code === undefined ? {} : { doc_url: `https://stripe.com/docs/error-codes/${error.code.replaceAll("_", "-")}` };
  return { status, body: { error: { ...error, ...docUrl } }, ...(headers === undefined ? {} : { headers }) };
}

export function invalidParam(param: string, message: string, code = "parameter_invalid"): StripeAnswer {
  return new StripeAnswer(errorAnswer(400, { type: "invalid_request_error", code, param, message }));
}

export function unknownParameter(name: string): StripeAnswer {
  return invalidParam(name, `Received unknown parameter: ${name}`, "parameter_unknown");
}

/** Stripe's 404 for an id it does not have, naming the other mode when the object lives there. */
export function noSuch(noun: string, id: string, live: boolean, existsInOtherMode: boolean): StripeAnswer {
  const [keyMode, objectMode] = live ? ["live", "test"] : ["test", "live"];
  const otherMode = existsInOtherMode
    ? `; a similar object exists in ${objectMode} mode, but a ${keyMode} mode key was used to make this request.`
    : "";
  const message = `No such ${noun}: '${id}'${otherMode}`;
  return new StripeAnswer(errorAnswer(404, { type: "invalid_request_error", code: "resource_missing", param: "id", message }));
}

const idAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/** An id shaped like Stripe's: the prefix, an underscore, 14 letters and digits. */
export function randomId(prefix: string): string {
  let id = `${prefix}_`;
  for (let i = 0; i < 14; i += 1) id += idAlphabet[randomInt(idAlphabet.length)] ?? "0";
  return id;
}
