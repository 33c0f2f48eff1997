import { Agent, request } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { maxRequestBytes } from "../../src/receiver/function-url.ts";
import { createReceiverServer, type ReceiverServer } from "../../src/receiver/receiver-server.ts";

/*
 * The receiver's HTTP hygiene with a pooled keep-alive client, as the Stripe CLI and load tools
 * use: an oversized body is answered 413 and leaves no half-read connection in the pool, so the
 * requests after it on the same connections are answered, never reset.
 */

let receiver: ReceiverServer;
let url: string;
const agent = new Agent({ keepAlive: true, maxSockets: 2 });

beforeAll(async () => {
  receiver = createReceiverServer({
    // Echoes the body's size: each answer shows which request it belongs to.
    invoke: async (event) => ({
      statusCode: 200,
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ bytes: Buffer.from(event.body ?? "", event.isBase64Encoded ? "base64" : "utf8").length }),
    }),
    region: "us-east-1",
    log: () => {},
    logError: () => {},
  });
  await new Promise<void>((resolve) => receiver.server.listen(0, "127.0.0.1", () => resolve()));
  url = `http://127.0.0.1:${(receiver.server.address() as AddressInfo).port}/stripe/webhook`;
});

afterAll(async () => {
  agent.destroy();
  await receiver.drain(5000);
});

interface Answer {
  status: number;
  body: string;
  reusedSocket: boolean;
  connection: string | undefined;
}

// Every client-side error, including one that arrives after its response was read (a reset),
// or on a socket resting in the pool.
const errors: Error[] = [];
const watched = new WeakSet<Socket>();

/**
 * One POST through the pooled agent; `chunked` sends no content-length, as streaming clients
 * do. An answer with `Connection: close` resolves once its connection has closed, so a reset
 * (the server dropping unread bytes) is seen before the test moves on.
 */
function post(size: number, chunked = false): Promise<Answer> {
  const body = Buffer.alloc(size, "a");
  return new Promise((resolve, reject) => {
    const req = request(url, {
      method: "POST",
      agent,
      headers: { "content-type": "application/json", ...(chunked ? {} : { "content-length": String(size) }) },
    });
    let closed: Promise<void> = Promise.resolve();
    req.on("socket", (socket) => {
      closed = new Promise((settle) => socket.once("close", () => settle()));
      if (watched.has(socket)) return;
      watched.add(socket);
      socket.on("error", (error) => errors.push(error));
    });
    req.on("response", (response) => {
      let text = "";
      response.setEncoding("utf8");
      response.on("data", (chunk: string) => (text += chunk));
      response.on("end", () => {
        const answer = {
          status: response.statusCode ?? 0,
          body: text,
          reusedSocket: req.reusedSocket,
          connection: response.headers.connection,
        };
        if (answer.connection === "close") void closed.then(() => resolve(answer));
        else resolve(answer);
      });
      response.on("error", reject);
    });
    req.on("error", (error) => {
      errors.push(error);
      reject(error);
    });
    if (chunked) {
      // Several writes, so the body really arrives in chunks.
      for (let offset = 0; offset < size; offset += 1 << 20) req.write(body.subarray(offset, offset + (1 << 20)));
      req.end();
    } else {
      req.end(body);
    }
  });
}

const small = 1000;
const oversized = maxRequestBytes + 1;

describe("receiver server over pooled keep-alive connections", () => {
  it("answers an oversized body 413 with Connection: close, and the requests around it normally", async () => {
    const warm = await post(small);
    expect(warm).toMatchObject({ status: 200, body: JSON.stringify({ bytes: small }) });

    // On a connection the pool kept alive: the case where unread bytes would poison the next request.
    const tooLarge = await post(oversized);
    expect(tooLarge.reusedSocket).toBe(true);
    expect(tooLarge.status).toBe(413);
    expect(JSON.parse(tooLarge.body)).toEqual({ Message: "Request must be smaller than 6291456 bytes" });
    expect(tooLarge.connection).toBe("close");

    const after = await post(small);
    expect(after).toMatchObject({ status: 200, body: JSON.stringify({ bytes: small }) });
    const again = await post(small);
    expect(again).toMatchObject({ status: 200, reusedSocket: true });
    expect(errors).toEqual([]);
  });

  it("keeps answering when oversized bodies (sized and chunked) are mixed into concurrent traffic", async () => {
    const sizes: Array<{ size: number; chunked?: boolean }> = [
      { size: small },
      { size: oversized },
      { size: 2000 },
      { size: oversized, chunked: true },
      { size: 3000, chunked: true },
      { size: maxRequestBytes },
      { size: 4000 },
      { size: oversized },
      { size: 5000 },
      // Far past the cap: most of it is still unsent when the cap is reached.
      { size: 3 * maxRequestBytes },
      { size: 6000 },
      { size: 3 * maxRequestBytes, chunked: true },
    ];
    // Rounds of parallel requests over the agent's two sockets, so each socket carries several.
    const answers: Answer[] = [];
    for (let index = 0; index < sizes.length; index += 3) {
      const round = sizes.slice(index, index + 3);
      answers.push(...(await Promise.all(round.map(({ size, chunked }) => post(size, chunked)))));
    }
    expect(answers.map((answer) => answer.status)).toEqual(
      sizes.map(({ size }) => (size > maxRequestBytes ? 413 : 200)),
    );
    answers.forEach((answer, index) => {
      const size = sizes[index]?.size ?? 0;
      if (size <= maxRequestBytes) expect(answer.body).toBe(JSON.stringify({ bytes: size }));
    });
    expect(answers.some((answer) => answer.reusedSocket)).toBe(true);
    expect(answers.filter((answer) => answer.status === 413).every((answer) => answer.connection === "close")).toBe(true);
    expect(errors).toEqual([]);
  });
});
