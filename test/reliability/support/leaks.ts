import { expect, vi } from "vitest";
import type { FigureBook } from "./figures.ts";

/*
 * The leak scan: every suite registers what must never be shown (signing secrets, every
 * Stripe-Signature value it sent, marker strings planted in event fields that no log line may
 * quote), feeds in everything that was shown (the handler's Powertools output captured from
 * stdout/stderr, the receiver's stdout/stderr, every response's status line, headers and
 * body), and asserts nothing registered turns up anywhere.
 */

/** The prefix of every planted marker; any text holding one is a payload leak. */
export const markerPrefix = "RLBMARK";
const markerPattern = new RegExp(`${markerPrefix}[0-9a-z]+`, "g");
const hexPattern = /[0-9a-f]{64}/g;
const secretPattern = /whsec_[A-Za-z0-9_-]+/g;
// Anything shaped like a Stripe-Signature header, whatever its signatures.
const headerShape = /t=[^,\s"]*,\s?v[01]=/;

export interface Leak {
  what: string;
  where: string;
}

export class LeakWatch {
  private readonly secrets = new Set<string>();
  private readonly signatures = new Set<string>();
  /** Header values not made of 64-hex signatures (the malformed ones), matched verbatim. */
  private readonly rawHeaders = new Set<string>();
  private readonly markers = new Set<string>();
  private readonly texts: { where: string; text: string }[] = [];
  private restore: (() => void) | undefined;

  /** Planted markers, every one unique. */
  marker(): string {
    const value = `${markerPrefix}${Math.random().toString(36).slice(2, 12)}`;
    this.markers.add(value);
    return value;
  }

  secret(value: string): string {
    this.secrets.add(value);
    return value;
  }

  /** A Stripe-Signature value that was sent; returns it. */
  header(value: string): string {
    const hexes = value.match(hexPattern) ?? [];
    for (const hex of hexes) this.signatures.add(hex);
    // Short garbage ("t=1") would match innocent text; those are covered by the shape check.
    if (hexes.length === 0 && value.trim().length >= 12) this.rawHeaders.add(value);
    return value;
  }

  /** Text that was shown somewhere (a response, a process's output). */
  shown(where: string, text: string): void {
    if (text.length > 0) this.texts.push({ where, text });
  }

  /**
   * Captures everything written to this process's stdout and stderr (Powertools writes its JSON
   * lines there) until {@link stopCapture}; the output is kept for the scan, not printed.
   */
  startCapture(): void {
    if (this.restore) return;
    const capture = (stream: "stdout" | "stderr") => (chunk: unknown) => {
      this.shown(`handler ${stream}`, typeof chunk === "string" ? chunk : Buffer.from(chunk as Uint8Array).toString());
      return true;
    };
    const out = vi.spyOn(process.stdout, "write").mockImplementation(capture("stdout"));
    const err = vi.spyOn(process.stderr, "write").mockImplementation(capture("stderr"));
    this.restore = () => {
      out.mockRestore();
      err.mockRestore();
    };
  }

  stopCapture(): void {
    this.restore?.();
    this.restore = undefined;
  }

  /** The captured lines that parse as JSON objects (the Powertools logs), oldest first. */
  jsonLines(): Record<string, unknown>[] {
    const lines: Record<string, unknown>[] = [];
    for (const { where, text } of this.texts) {
      if (!where.startsWith("handler")) continue;
      for (const line of text.split("\n")) {
        if (!line.startsWith("{")) continue;
        try {
          lines.push(JSON.parse(line) as Record<string, unknown>);
        } catch {
          // Not a log line.
        }
      }
    }
    return lines;
  }

  /** A position in the shown text, for {@link since}. */
  mark(): number {
    return this.texts.length;
  }

  /** Everything shown after `mark`, with where it was shown. */
  since(mark: number): { where: string; text: string }[] {
    return this.texts.slice(mark);
  }

  get bytesShown(): number {
    return this.texts.reduce((sum, { text }) => sum + text.length, 0);
  }

  get needleCount(): number {
    return this.secrets.size + this.signatures.size + this.rawHeaders.size + this.markers.size;
  }

  /** Everything registered that turns up in `text`. */
  findIn(where: string, text: string): Leak[] {
    const leaks: Leak[] = [];
    for (const match of text.match(markerPattern) ?? []) leaks.push({ what: `planted payload marker ${match}`, where });
    for (const match of text.match(hexPattern) ?? []) {
      if (this.signatures.has(match)) leaks.push({ what: `signature ${match.slice(0, 8)}...`, where });
    }
    for (const match of text.match(secretPattern) ?? []) {
      if (this.secrets.has(match)) leaks.push({ what: "a signing secret", where });
    }
    for (const secret of this.secrets) {
      // The key without its prefix, e.g. quoted after a redaction of the prefix alone.
      if (text.includes(secret.slice("whsec_".length))) leaks.push({ what: "a signing secret's key", where });
    }
    for (const header of this.rawHeaders) {
      if (text.includes(header)) leaks.push({ what: `Stripe-Signature value ${header.slice(0, 16)}...`, where });
    }
    if (headerShape.test(text)) leaks.push({ what: "something shaped like a Stripe-Signature header", where });
    return leaks;
  }

  /** Scans all text shown so far. */
  scan(): Leak[] {
    return this.texts.flatMap(({ where, text }) => this.findIn(where, text));
  }
}

/**
 * The scan every suite ends with: records what was scanned and found in the suite's figures,
 * then fails on any leak.
 */
export function expectNoLeaks(watch: LeakWatch, book: FigureBook): void {
  const leaks = watch.scan();
  book.add("log bytes scanned", watch.bytesShown);
  book.max("needles", watch.needleCount);
  book.add("leaks", leaks.length);
  expect(leaks).toEqual([]);
}
