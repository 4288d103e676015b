/**
 * A Server-Sent Events parser (the WHATWG "event stream interpretation" algorithm), fed
 * with text in pieces of any size: a line, a CRLF pair or a UTF-8 character may be split
 * across pieces. Lines end with CRLF, LF or CR; `data:` lines of one event are joined
 * with "\n"; comments (`:`), `id:` and `retry:` are understood; an event without a `data:`
 * line is not dispatched; an unterminated event at the end of the stream is discarded.
 */

/** One dispatched event. */
export interface SSEEvent {
  /** The `event:` field, `"message"` when the event had none. */
  event: string;
  /** The `data:` lines, joined with "\n". */
  data: string;
  /** The last `id:` seen so far, if any. */
  id: string | undefined;
}

export class SSEDecoder {
  private pending = "";
  private afterCR = false;
  private eventType = "";
  private dataLines: string[] = [];
  private lastEventId: string | undefined;

  /** Feeds a piece of decoded text; returns the events it completed, in order. */
  push(text: string): SSEEvent[] {
    const out: SSEEvent[] = [];
    const buf = this.pending + text;
    let start = 0;
    for (let i = 0; i < buf.length; i++) {
      const c = buf.charCodeAt(i);
      if (this.afterCR) {
        this.afterCR = false;
        if (c === 0x0a && i === start) {
          // The LF of a CRLF whose CR ended the previous line.
          start = i + 1;
          continue;
        }
      }
      if (c === 0x0a || c === 0x0d) {
        this.line(buf.slice(start, i), out);
        start = i + 1;
        this.afterCR = c === 0x0d;
      }
    }
    this.pending = buf.slice(start);
    return out;
  }

  /** The end of the stream: an event not yet ended by a blank line is discarded (as the standard says). */
  end(): SSEEvent[] {
    this.pending = "";
    this.dataLines = [];
    this.eventType = "";
    return [];
  }

  private line(line: string, out: SSEEvent[]): void {
    if (line === "") {
      if (this.dataLines.length > 0) {
        out.push({ event: this.eventType === "" ? "message" : this.eventType, data: this.dataLines.join("\n"), id: this.lastEventId });
      }
      this.dataLines = [];
      this.eventType = "";
      return;
    }
    if (line.charCodeAt(0) === 0x3a /* ':' */) return; // a comment
    const colon = line.indexOf(":");
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? "" : line.slice(colon + 1);
    if (value.charCodeAt(0) === 0x20) value = value.slice(1);
    switch (field) {
      case "event":
        this.eventType = value;
        break;
      case "data":
        this.dataLines.push(value);
        break;
      case "id":
        if (!value.includes("\0")) this.lastEventId = value;
        break;
      default:
        // `retry:` (reconnection delay) and unknown fields: nothing to do for a one-shot stream.
        break;
    }
  }
}

/**
 * The events of an SSE response body, decoded as UTF-8 (a BOM is dropped, a character
 * split between chunks is joined).
 */
export async function* readSSE(body: ReadableStream<Uint8Array>): AsyncGenerator<SSEEvent, void, undefined> {
  const decoder = new TextDecoder("utf-8");
  const parser = new SSEDecoder();
  const reader = body.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      yield* parser.push(decoder.decode(value, { stream: true }));
    }
    yield* parser.push(decoder.decode());
    yield* parser.end();
  } finally {
    // Stops the download when the consumer stops early (an error in a callback).
    reader.cancel().catch(() => undefined);
    reader.releaseLock();
  }
}
