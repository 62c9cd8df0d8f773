import { connect, type Socket } from 'node:net';

/** A raw TCP connection to a loopback port; rejects if refused. */
export function openSocket(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.off('error', reject);
      resolve(socket);
    });
    socket.once('error', reject);
  });
}

export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/**
 * Reads one HTTP/1.1 response (with Content-Length) from a socket, as a keep-alive client would, so
 * tests can send the next request on the same connection. Rejects if the connection ends or resets first.
 */
export function readResponse(socket: Socket): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    let buffer = Buffer.alloc(0);
    if (socket.destroyed || socket.readableEnded)
      return reject(new Error('connection closed before a response'));
    const done = (fn: () => void) => {
      socket.off('data', onData);
      socket.off('error', onError);
      socket.off('end', onEnd);
      socket.off('close', onEnd);
      fn();
    };
    const onError = (err: Error) => done(() => reject(err));
    const onEnd = () => done(() => reject(new Error('connection closed before a response')));
    const onData = (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk]);
      const head = buffer.indexOf('\r\n\r\n');
      if (head < 0) return;
      const lines = buffer.subarray(0, head).toString('latin1').split('\r\n');
      const headers: Record<string, string> = {};
      for (const line of lines.slice(1)) {
        const i = line.indexOf(':');
        headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
      }
      const length = Number(headers['content-length'] ?? 0);
      if (buffer.length < head + 4 + length) return;
      const body = buffer.subarray(head + 4, head + 4 + length).toString('utf8');
      done(() => resolve({ status: Number(lines[0]!.split(' ')[1]), headers, body }));
    };
    socket.on('data', onData);
    socket.once('error', onError);
    socket.once('end', onEnd);
    socket.once('close', onEnd);
  });
}

/** Resolves when the peer closes the connection (or it resets), with whether it was a reset. */
export function whenClosed(socket: Socket): Promise<{ reset: boolean }> {
  return new Promise((resolve) => {
    if (socket.destroyed) return resolve({ reset: false });
    let reset = false;
    socket.on('error', () => (reset = true));
    socket.resume();
    socket.once('close', () => resolve({ reset }));
  });
}

/** Polls until the port refuses connections: the server has stopped accepting (its drain has begun). */
export async function waitUntilRefused(port: number, timeoutMs = 20_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    try {
      (await openSocket(port)).destroy();
    } catch {
      return;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`port ${port} still accepts connections`);
}
