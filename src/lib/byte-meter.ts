import { Transform, type TransformCallback } from 'node:stream';
import { SNIFF_BYTES } from './sniff.ts';

/**
 * Counts the bytes that pass and keeps the first SNIFF_BYTES (to sniff the type from); fails with
 * `tooLarge()` as soon as more than `max` have passed, so a stream past its limit is cut off there.
 */
export class ByteMeter extends Transform {
  size = 0;
  readonly #head: Buffer[] = [];
  #headBytes = 0;
  readonly #max: number;
  readonly #tooLarge: () => Error;
  constructor(max: number, tooLarge: () => Error) {
    super();
    this.#max = max;
    this.#tooLarge = tooLarge;
  }
  /** The first bytes seen. */
  get head(): Buffer {
    return Buffer.concat(this.#head);
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.size += chunk.length;
    if (this.size > this.#max) {
      done(this.#tooLarge());
      return;
    }
    if (this.#headBytes < SNIFF_BYTES) {
      const part = chunk.subarray(0, SNIFF_BYTES - this.#headBytes);
      this.#head.push(part);
      this.#headBytes += part.length;
    }
    done(null, chunk);
  }
}
