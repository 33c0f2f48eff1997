import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { Context, LambdaFunctionURLEvent } from "aws-lambda";
import {
  invocationErrorResponse,
  maxRequestBytes,
  toFunctionUrlEvent,
  toHttpResponse,
  type HttpResponse,
} from "./function-url.ts";
import { functionTimeoutMs, lambdaContext } from "../lambda-context.ts";
import { envelopeFacts, formatRequestLine, parseJsonBody } from "./request-log.ts";

/** The deployed handler's shape; a context is passed as Lambda does, used or not. */
export type Invoke = (event: LambdaFunctionURLEvent, context: Context) => Promise<unknown>;

export interface ReceiverServerOptions {
  invoke: Invoke;
  region: string;
  log: (line: string) => void;
  logError: (line: string) => void;
  /**
   * The only path requests are handed on for, as the stage's router routes only the webhook
   * path (and below it) to the function; anything else is answered 404. Every path when unset.
   */
  path?: string;
}

/** What a cut-off left unanswered. */
export interface CutOff {
  requests: number;
  /** The event ids of those whose body had been read (and looked like an event). */
  eventIds: string[];
}

export interface ReceiverServer {
  server: Server;
  /**
   * Stops accepting connections and resolves once every in-flight request has been answered:
   * true, or false if some were still running after `timeoutMs`.
   */
  drain(timeoutMs: number): Promise<boolean>;
  /** Closes every connection now, requests in flight included, and says what was cut off. */
  cutOff(): CutOff;
}

class TimeoutError extends Error {}

/**
 * The body, or undefined past the cap. An oversized body is still read to its end (and dropped,
 * so memory stays bounded): leaving the loop early would destroy the socket under a client that
 * is still sending, which then sees ECONNRESET instead of the 413. The server's request timeout
 * and the shutdown's cut-off bound how long a body that never ends can take.
 */
async function readBody(request: IncomingMessage): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    const buffer = chunk as Buffer;
    size += buffer.length;
    if (size > maxRequestBytes) {
      chunks.length = 0;
      continue;
    }
    chunks.push(buffer);
  }
  return size > maxRequestBytes ? undefined : Buffer.concat(chunks);
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new TimeoutError(`Task timed out after ${ms / 1000} seconds`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function notFound(path: string): HttpResponse {
  return {
    statusCode: 404,
    headers: { "content-type": "application/json" },
    body: Buffer.from(JSON.stringify({ error: "not_found", message: `Stripe webhooks are received at ${path} only` })),
  };
}

/** Whether the router would route this request path to the function: the path or below it. */
function routed(rawPath: string, path: string): boolean {
  return rawPath === path || rawPath.startsWith(`${path}/`);
}

function tooLarge(): HttpResponse {
  return {
    statusCode: 413,
    headers: { "content-type": "application/json" },
    body: Buffer.from(JSON.stringify({ Message: "Request must be smaller than 6291456 bytes" })),
  };
}

/** An HTTP server that hands each request to `invoke` as a function URL event. */
export function createReceiverServer(options: ReceiverServerOptions): ReceiverServer {
  let inFlight = 0;
  let closing = false;
  let onIdle: (() => void) | undefined;
  // Each request in flight, with its event id once its body is read.
  const inFlightEvents = new Map<IncomingMessage, string | undefined>();

  async function respond(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const started = performance.now();
    const requestId = randomUUID();
    const body = await readBody(request);
    if (body) inFlightEvents.set(request, envelopeFacts(body).id);
    const rawPath = (request.url ?? "/").split("?")[0] ?? "/";
    let result: HttpResponse;
    if (body === undefined) {
      result = tooLarge();
    } else if (options.path !== undefined && !routed(rawPath, options.path)) {
      result = notFound(options.path);
    } else {
      const event = toFunctionUrlEvent({
        method: request.method ?? "GET",
        url: request.url ?? "/",
        httpVersion: request.httpVersion,
        rawHeaders: request.rawHeaders,
        sourceIp: request.socket.remoteAddress ?? "127.0.0.1",
        body,
        requestId,
      });
      try {
        const output = await withTimeout(
          options.invoke(event, lambdaContext(requestId, options.region)),
          functionTimeoutMs,
        );
        result = toHttpResponse(output);
      } catch (error) {
        // Lambda logs what the function threw and answers 502; so does the local receiver.
        options.logError(
          error instanceof TimeoutError
            ? `${requestId} ${error.message}`
            : `${requestId} handler threw: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`,
        );
        result = invocationErrorResponse();
      }
    }

    const headers: Record<string, string | string[]> = { ...result.headers, "x-amzn-requestid": requestId };
    // While shutting down, make keep-alive clients reconnect (and find the server gone). After a
    // 413 too: a client that sent that much is not one whose connection is worth keeping.
    if (closing || body === undefined) headers.connection = "close";
    response.writeHead(result.statusCode, headers);
    // Resolves once the response is handed to the OS, so a shutdown never cuts it short.
    await new Promise<void>((resolve) => response.end(result.body, resolve));

    const contentType = result.headers["content-type"];
    options.log(
      formatRequestLine({
        method: request.method ?? "GET",
        path: rawPath,
        status: result.statusCode,
        durationMs: performance.now() - started,
        requestBody: body ?? Buffer.alloc(0),
        response: parseJsonBody(result.body, typeof contentType === "string" ? contentType : undefined),
      }),
    );
  }

  const server = createServer((request, response) => {
    inFlight += 1;
    inFlightEvents.set(request, undefined);
    respond(request, response)
      .catch((error: unknown) => {
        options.logError(`request failed: ${error instanceof Error ? error.message : String(error)}`);
        if (!response.headersSent) response.writeHead(500);
        response.end();
      })
      .finally(() => {
        inFlight -= 1;
        inFlightEvents.delete(request);
        if (closing) server.closeIdleConnections();
        if (inFlight === 0) onIdle?.();
      });
  });

  async function drain(timeoutMs: number): Promise<boolean> {
    closing = true;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeIdleConnections();
    const idle = inFlight === 0 ? Promise.resolve() : new Promise<void>((resolve) => (onIdle = resolve));
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), timeoutMs);
    });
    const finished = await Promise.race([idle.then(() => true), timedOut]);
    clearTimeout(timer);
    server.closeAllConnections();
    await closed;
    return finished;
  }

  function cutOff(): CutOff {
    const eventIds = [...inFlightEvents.values()].filter((id): id is string => id !== undefined);
    const requests = inFlightEvents.size;
    closing = true;
    server.close();
    server.closeAllConnections();
    return { requests, eventIds };
  }

  return { server, drain, cutOff };
}
