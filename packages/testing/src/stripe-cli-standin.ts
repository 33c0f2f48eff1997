import { randomBytes } from "node:crypto";
import { once } from "node:events";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Duplex } from "node:stream";
import Stripe from "stripe";
import { WebSocket, WebSocketServer, type RawData } from "ws";

/*
 * A double of Stripe's servers, as the real Stripe CLI binary sees them. Stripe cannot be
 * reached from this machine or from CI, and what is under test is the real CLI talking to the
 * real receiver, so the one thing replaced is the far end of the CLI's connection, through its
 * own (hidden) `--api-base` flag. It listens on 127.0.0.1 only, on a free port.
 *
 * What it implements, learned from the CLI's source (github.com/stripe/stripe-cli: pkg/stripeauth,
 * pkg/websocket, pkg/proxy, pkg/cmd/listen.go; facts only, no code):
 *
 * - `POST /v1/stripecli/sessions` (what `stripe listen` and `stripe listen --print-secret` call):
 *   a form with device_name, websocket_features[] and forward_to_url, authorised by
 *   `Authorization: Bearer <api key>`; a 401 with Stripe's error JSON for any other key, as
 *   Stripe answers. The JSON answer: websocket_url, websocket_id, websocket_authorized_feature,
 *   secret (the signing secret; one per stand-in, since Stripe gives a device the same secret
 *   every session, which is what makes `--print-secret` useful), reconnect_delay (seconds before
 *   the CLI recycles the connection) and the API versions.
 * - The websocket at websocket_url: the CLI dials it with `?websocket_feature=<feature>`, a
 *   `Websocket-Id` header and the `stripecli-devproxy-v1` subprotocol; an unknown id is answered
 *   400 `Unknown WebSocket ID.`, which the CLI takes as an expired session. The framing is the
 *   `ws` package's: fragmented messages (gorilla/websocket, the CLI's library, may split a long
 *   message such as a webhook_response carrying the event back), pongs to the CLI's pings (it
 *   pings every 2 s and gives up on a connection after 10 s of silence) and the close handshake.
 * - Messages to the CLI: `webhook_event` with webhook_id, webhook_conversation_id,
 *   event_payload (the exact bytes it forwards), http_headers (Stripe-Signature among them,
 *   made with the session secret) and endpoint.api_version null (a non-null version means
 *   "formatted for --latest", which a plain `stripe listen` drops).
 * - Messages from the CLI: `event_ack` (the event parsed), then `webhook_response` with the
 *   local endpoint's status, which {@link StripeCliStandin.response} hands back.
 * - Any other `/v1/...` request (what `stripe trigger` fixtures call) is authorised the same way,
 *   recorded, and answered with a generic object `{ id, object }`, enough for fixtures that
 *   refer to earlier responses by `${name:id}`. No events are generated from them.
 */

const subprotocol = "stripecli-devproxy-v1";
const sessionPath = "/v1/stripecli/sessions";
const websocketPath = "/subscribe";

/** A `POST /v1/stripecli/sessions` as the stand-in received it (the key is not kept). */
export interface SessionRequest {
  deviceName: string | null;
  websocketFeatures: string[];
  forwardToUrl: string | null;
}

/** What the CLI reported back for one delivery (no request headers: they hold the signature). */
export interface WebhookResponseReport {
  webhookId: string;
  conversationId: string;
  eventId: string;
  status: number;
  forwardUrl: string;
  body: string;
}

export interface StripeCliStandinOptions {
  /** The only API key accepted; any other bearer is answered 401. */
  apiKey: string;
  /** Seconds before the CLI recycles its websocket (Stripe's sessions last long). */
  reconnectDelaySeconds?: number;
}

export interface StripeCliStandin {
  /** `http://127.0.0.1:<port>`: what `--api-base` (STRIPE_CLI_API_BASE) takes. */
  url: string;
  /** The signing secret of every session this stand-in hands out. */
  secret: string;
  sessions: readonly SessionRequest[];
  /** Other API calls, as `METHOD /path` (no query, no body). */
  apiRequests: readonly string[];
  /** How many requests came with a key that was refused. */
  unauthorized(): number;
  /** Open websocket connections from a CLI. */
  connections(): number;
  /** Resolves once a CLI has an open websocket (at once if one has). */
  connected(timeoutMs?: number): Promise<void>;
  /** Resolves once no CLI websocket is open. */
  disconnected(timeoutMs?: number): Promise<void>;
  /**
   * Pushes one delivery of `event` (an object is pretty-printed, as Stripe sends it; a string is
   * sent as is) to the newest CLI connection, freshly signed. Returns the delivery's webhook id.
   */
  send(event: object | string): string;
  /** The CLI's webhook_response for a delivery. */
  response(webhookId: string, timeoutMs?: number): Promise<WebhookResponseReport>;
  responses(): readonly WebhookResponseReport[];
  /** Event ids the CLI acknowledged (`event_ack`), in arrival order. */
  acks(): readonly string[];
  close(): Promise<void>;
}

/** A message's text; the CLI sends JSON, as text frames (binary ones are read the same way). */
function messageText(data: RawData): string {
  if (Array.isArray(data)) return Buffer.concat(data).toString("utf8");
  if (data instanceof ArrayBuffer) return Buffer.from(data).toString("utf8");
  return data.toString("utf8");
}

function json(response: ServerResponse, status: number, body: unknown): void {
  response.writeHead(status, { "content-type": "application/json", "request-id": `req_${randomBytes(7).toString("hex")}` });
  response.end(JSON.stringify(body, null, 2));
}

function readBody(request: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let body = "";
    request.setEncoding("utf8");
    request.on("data", (chunk: string) => (body += chunk));
    request.on("end", () => resolve(body));
    request.on("error", reject);
  });
}

/** Stripe's answer to a missing or wrong key: its message masks all but the key's last four. */
function unauthorizedBody(authorization: string | undefined): unknown {
  const key = authorization?.startsWith("Bearer ") ? authorization.slice("Bearer ".length) : undefined;
  const message = key
    ? `Invalid API Key provided: ${key.slice(0, 8)}${"*".repeat(Math.max(0, key.length - 12))}${key.slice(-4)}`
    : "You did not provide an API key. You need to provide your API key in the Authorization header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY').";
  return { error: { message, type: "invalid_request_error" } };
}

/** Starts a stand-in for Stripe's API and event stream on 127.0.0.1. */
export async function startStripeCliStandin(options: StripeCliStandinOptions): Promise<StripeCliStandin> {
  const secret = `whsec_${randomBytes(32).toString("hex")}`;
  const sessions: SessionRequest[] = [];
  const websocketIds = new Set<string>();
  const apiRequests: string[] = [];
  const reports: WebhookResponseReport[] = [];
  const acked: string[] = [];
  const live = new Set<WebSocket>();
  let newest: WebSocket | undefined;
  let refused = 0;
  let counter = 0;
  const changed = new Set<() => void>();
  const notify = () => {
    for (const listener of [...changed]) listener();
  };

  /** Resolves with `check()`'s first defined value, re-checked on every change. */
  function until<T>(check: () => T | undefined, timeoutMs: number, what: string): Promise<T> {
    return new Promise((resolve, reject) => {
      const attempt = () => {
        const value = check();
        if (value === undefined) return;
        changed.delete(attempt);
        clearTimeout(timer);
        resolve(value);
      };
      const timer = setTimeout(() => {
        changed.delete(attempt);
        reject(new Error(`Stripe CLI stand-in: timed out after ${timeoutMs} ms waiting for ${what}`));
      }, timeoutMs);
      changed.add(attempt);
      attempt();
    });
  }

  function onMessage(text: string): void {
    let message: Record<string, unknown>;
    try {
      message = JSON.parse(text) as Record<string, unknown>;
    } catch {
      return;
    }
    if (message.type === "event_ack") {
      acked.push(String(message.event_id));
    } else if (message.type === "webhook_response") {
      reports.push({
        webhookId: String(message.webhook_id),
        conversationId: String(message.webhook_conversation_id),
        eventId: String(message.notification_id),
        status: Number(message.status),
        forwardUrl: String(message.forward_url),
        body: String(message.body),
      });
    }
    notify();
  }

  const server = createServer((request, response) => {
    void (async () => {
      const path = (request.url ?? "/").split("?")[0] ?? "/";
      const body = await readBody(request);
      const authorization = request.headers.authorization;
      if (authorization !== `Bearer ${options.apiKey}`) {
        refused += 1;
        json(response, 401, unauthorizedBody(authorization));
        return;
      }
      if (request.method === "POST" && path === sessionPath) {
        const form = new URLSearchParams(body);
        sessions.push({
          deviceName: form.get("device_name"),
          websocketFeatures: form.getAll("websocket_features[]"),
          forwardToUrl: form.get("forward_to_url"),
        });
        const websocketId = `cliws_${randomBytes(8).toString("hex")}`;
        websocketIds.add(websocketId);
        const { port } = server.address() as AddressInfo;
        json(response, 200, {
          websocket_url: `ws://127.0.0.1:${port}${websocketPath}`,
          websocket_id: websocketId,
          websocket_authorized_feature: form.getAll("websocket_features[]")[0] ?? "webhooks",
          secret,
          reconnect_delay: options.reconnectDelaySeconds ?? 3600,
          display_connect_filter_warning: false,
          default_version: null,
          latest_version: null,
          device_token: "",
        });
        notify();
        return;
      }
      if (!path.startsWith("/v1/")) {
        json(response, 404, { error: { message: `Unrecognized request URL (${request.method}: ${path}).`, type: "invalid_request_error" } });
        return;
      }
      apiRequests.push(`${request.method} ${path}`);
      counter += 1;
      // `/v1/payment_methods/pm_card_visa/attach` -> payment_method: the collection names the object.
      const collection = path.split("/")[2] ?? "object";
      const object = collection.endsWith("s") ? collection.slice(0, -1) : collection;
      json(response, 200, { id: `${object.slice(0, 4)}_standin${counter}`, object });
      notify();
    })().catch((error: unknown) => {
      if (!response.headersSent) json(response, 500, { error: { message: String(error), type: "api_error" } });
    });
  });

  // Offered extensions (permessage-deflate) are declined, and the CLI's subprotocol echoed.
  const websockets = new WebSocketServer({
    noServer: true,
    perMessageDeflate: false,
    handleProtocols: (offered) => (offered.has(subprotocol) ? subprotocol : false),
  });

  server.on("upgrade", (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    const reject = (status: number, message: string) => {
      const body = JSON.stringify({ error: { message } });
      socket.end(
        `HTTP/1.1 ${status} Bad Request\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
      );
    };
    const url = new URL(request.url ?? "/", "http://127.0.0.1");
    const key = request.headers["sec-websocket-key"];
    if (url.pathname !== websocketPath || typeof key !== "string" || request.headers["sec-websocket-version"] !== "13") {
      reject(400, "Not a websocket request.");
      return;
    }
    const websocketId = request.headers["websocket-id"];
    if (typeof websocketId !== "string" || !websocketIds.has(websocketId)) {
      reject(400, "Unknown WebSocket ID.");
      return;
    }
    websockets.handleUpgrade(request, socket, head, (connection) => {
      connection.on("message", (data) => onMessage(messageText(data)));
      // A CLI that goes away mid-frame resets the connection; "close" follows and ends it.
      connection.on("error", () => {});
      connection.on("close", () => {
        live.delete(connection);
        if (newest === connection) newest = [...live].at(-1);
        notify();
      });
      live.add(connection);
      newest = connection;
      notify();
    });
  });

  // `once` rejects when the server emits "error" first (no loopback port to bind).
  await once(server.listen(0, "127.0.0.1"), "listening");
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    secret,
    sessions,
    apiRequests,
    unauthorized: () => refused,
    connections: () => live.size,
    connected: (timeoutMs = 20_000) => until(() => (live.size > 0 ? true : undefined), timeoutMs, "a CLI websocket").then(() => {}),
    disconnected: (timeoutMs = 20_000) =>
      until(() => (live.size === 0 ? true : undefined), timeoutMs, "the CLI websockets to close").then(() => {}),
    send(event) {
      const connection = newest;
      if (!connection) throw new Error("Stripe CLI stand-in: no CLI is connected (await connected() first)");
      const payload = typeof event === "string" ? event : JSON.stringify(event, null, 2);
      counter += 1;
      const webhookId = `we_standin${counter}`;
      connection.send(
        JSON.stringify({
          type: "webhook_event",
          webhook_id: webhookId,
          webhook_conversation_id: `wc_standin${counter}`,
          event_payload: payload,
          http_headers: {
            Accept: "*/*; q=0.5, application/xml",
            "Cache-Control": "no-cache",
            "Content-Type": "application/json; charset=utf-8",
            "Stripe-Signature": Stripe.webhooks.generateTestHeaderString({ payload, secret }),
            "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
          },
          endpoint: { api_version: null },
        }),
      );
      return webhookId;
    },
    response: (webhookId, timeoutMs = 20_000) =>
      until(() => reports.find((report) => report.webhookId === webhookId), timeoutMs, `the CLI's response to ${webhookId}`),
    responses: () => reports,
    acks: () => acked,
    async close() {
      for (const connection of live) connection.close(1001);
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      // A CLI that does not answer the close handshake must not keep the test waiting.
      const timer = setTimeout(() => {
        for (const connection of live) connection.terminate();
        server.closeAllConnections();
      }, 2000);
      await closed;
      clearTimeout(timer);
      websockets.close();
    },
  };
}
