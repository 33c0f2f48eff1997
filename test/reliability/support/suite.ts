import { newWebhookSecret } from "@stripe-webhooks/stripe-fixtures/events";
import { afterAll, beforeAll } from "vitest";
import { FigureBook } from "./figures.ts";
import { LeakWatch } from "./leaks.ts";

/**
 * What a suite that drives the pipeline in-process starts with: a leak watch that captures the
 * handler's output for the whole file, a signing secret it watches for, and the figure book
 * written when the file ends. Call it at the top of the file, before any `describe`.
 */
export function inProcessSuite(name: string): { watch: LeakWatch; secret: string; book: FigureBook } {
  const watch = new LeakWatch();
  const secret = watch.secret(newWebhookSecret());
  const book = new FigureBook(name);
  beforeAll(() => watch.startCapture());
  afterAll(() => {
    watch.stopCapture();
    book.write();
  });
  return { watch, secret, book };
}
