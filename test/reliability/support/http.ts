import { request as httpRequest } from "node:http";
import type { Answer } from "./handler-module.ts";
import type { RawRequest } from "./deliveries.ts";

/**
 * Sends a request byte for byte with node:http (repeated headers stay repeated, any method,
 * any body), to 127.0.0.1 only, and reads the answer. An answer that arrives before the body
 * is fully sent (a 413 on an oversized body) is still returned.
 */
export function send(url: string, raw: RawRequest, timeoutMs = 20_000): Promise<Answer> {
  const target = new URL(url);
  if (target.hostname !== "127.0.0.1") throw new Error(`refusing to send outside 127.0.0.1: ${url}`);
  return new Promise((resolve, reject) => {
    const headers: Record<string, string | string[]> = { ...raw.headers };
    if (raw.body !== undefined) headers["content-length"] = String(raw.body.length);
    const req = httpRequest(
      { host: target.hostname, port: target.port, path: target.pathname, method: raw.method, headers, timeout: timeoutMs },
      (response) => {
        const chunks: Buffer[] = [];
        response.on("data", (chunk: Buffer) => chunks.push(chunk));
        response.on("end", () => {
          const flat: Record<string, string> = {};
          for (const [name, value] of Object.entries(response.headers)) {
            if (value !== undefined) flat[name] = Array.isArray(value) ? value.join(", ") : value;
          }
          resolve({ status: response.statusCode ?? 0, headers: flat, body: Buffer.concat(chunks).toString("utf8") });
        });
        response.on("error", reject);
      },
    );
    req.on("timeout", () => req.destroy(new Error(`no answer from ${url} within ${timeoutMs} ms`)));
    // EPIPE/ECONNRESET after an early answer is expected; only fail if no answer came.
    req.on("error", (error) => setTimeout(() => reject(error), 200));
    req.end(raw.body);
  });
}
