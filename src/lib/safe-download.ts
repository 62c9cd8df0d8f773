import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { BlockList, isIP, isIPv4, type LookupFunction } from 'node:net';
import { pipeline } from 'node:stream/promises';
import { ByteMeter } from './byte-meter.ts';
import { http } from './node-http.ts';

/**
 * Downloads a URL a third party gave us (an OAuth2 provider's avatar URL) without letting that party aim
 * the server at itself or its network: the address each connection goes to is checked after the name is
 * resolved (so a name that resolves to 127.0.0.1, or rebinds to it, is refused), redirects are followed a
 * few times and checked the same way, and the body is cut off at a size and a deadline.
 */

export class DownloadError extends Error {}

/** Loopback, private, link-local, shared, multicast and reserved ranges: never fetched unless allowed. */
const BLOCKED = new BlockList();
for (const [address, bits] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['224.0.0.0', 3],
] as const)
  BLOCKED.addSubnet(address, bits, 'ipv4');
for (const [address, bits] of [
  ['::', 128],
  ['::1', 128],
  ['64:ff9b::', 96],
  ['fc00::', 7],
  ['fe80::', 10],
  ['ff00::', 8],
] as const)
  BLOCKED.addSubnet(address, bits, 'ipv6');

/** `10.0.0.0/8`, `fd00::/8` or one address, as a BlockList (the ranges a deployment lets downloads reach). */
export function addressList(items: readonly string[]): BlockList {
  const list = new BlockList();
  for (const item of items) {
    const [address = '', bits] = item.split('/');
    const family = isIPv4(address) ? 'ipv4' : 'ipv6';
    if (bits === undefined) list.addAddress(address, family);
    else list.addSubnet(address, Number(bits), family);
  }
  return list;
}

/** May a download connect to `address`? IPv4-mapped IPv6 (`::ffff:127.0.0.1`) is judged as IPv4. */
export function mayConnect(address: string, allow?: BlockList): boolean {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  const ip = mapped ? (mapped[1] as string) : address;
  const family = isIP(ip) === 4 ? 'ipv4' : isIP(ip) === 6 ? 'ipv6' : undefined;
  if (!family) return false;
  return !BLOCKED.check(ip, family) || Boolean(allow?.check(ip, family));
}

/** A DNS lookup for the HTTP client that fails when any address it finds may not be connected to. */
function checkedLookup(allow?: BlockList): LookupFunction {
  return (hostname, options, callback) => {
    dnsLookup(hostname, { ...options, all: true }, (err, addresses: LookupAddress[]) => {
      if (err) return callback(err, '', 0);
      const refused = addresses.find((a) => !mayConnect(a.address, allow));
      if (refused || addresses.length === 0)
        return callback(
          new DownloadError(`${hostname} resolves to an address downloads may not reach`),
          '',
          0,
        );
      if (options.all) return (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, addresses);
      const first = addresses[0] as LookupAddress;
      callback(null, first.address, first.family);
    });
  };
}

export interface DownloadOptions {
  /** The most bytes kept; a larger body fails the download. */
  maxBytes: number;
  /** For the whole download, redirects included. */
  timeoutMs: number;
  /** Private ranges this deployment lets downloads reach (an identity provider on the internal network). */
  allow?: BlockList;
}

export interface Downloaded {
  size: number;
  /** The first bytes, to sniff the type from. */
  head: Buffer;
  /** Where the bytes finally came from (after redirects). */
  url: URL;
}

const MAX_REDIRECTS = 3;

/** Downloads `url` into the file `path` (removed again if the download fails). */
export async function downloadToFile(
  url: string,
  path: string,
  options: DownloadOptions,
): Promise<Downloaded> {
  const signal = AbortSignal.timeout(options.timeoutMs);
  let target = new URL(url);
  try {
    for (let hop = 0; ; hop++) {
      const res = await get(target, options.allow, signal);
      const location = res.headers.location;
      if (res.statusCode && res.statusCode >= 300 && res.statusCode < 400 && location) {
        res.resume();
        if (hop >= MAX_REDIRECTS) throw new DownloadError('too many redirects');
        target = new URL(location, target);
        continue;
      }
      if (res.statusCode !== 200) {
        res.resume();
        throw new DownloadError(`${target.host} answered ${res.statusCode}`);
      }
      const declared = Number(res.headers['content-length'] ?? 0);
      if (declared > options.maxBytes) {
        res.destroy();
        throw new DownloadError(`the file is larger than ${options.maxBytes} bytes`);
      }
      const tooLarge = () => new DownloadError(`the file is larger than ${options.maxBytes} bytes`);
      const meter = new ByteMeter(options.maxBytes, tooLarge);
      await pipeline(res, meter, createWriteStream(path, { mode: 0o600 }), { signal });
      return { size: meter.size, head: meter.head, url: target };
    }
  } catch (err) {
    await rm(path, { force: true });
    if (err instanceof DownloadError) throw err;
    throw new DownloadError(`downloading from ${target.host} failed: ${(err as Error).name}`);
  }
}

function get(url: URL, allow: BlockList | undefined, signal: AbortSignal): Promise<IncomingMessage> {
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    return Promise.reject(new DownloadError(`${url.protocol} URLs are not downloaded`));
  // An address written in the URL is not looked up, so it is checked here.
  const host = url.hostname.replace(/^\[|\]$/g, '');
  if (isIP(host) && !mayConnect(host, allow))
    return Promise.reject(new DownloadError(`${host} is an address downloads may not reach`));
  const send = url.protocol === 'https:' ? httpsRequest : http.request;
  return new Promise((resolve, reject) => {
    const req = send(url, { lookup: checkedLookup(allow), signal, headers: { accept: '*/*' } }, resolve);
    req.on('error', reject);
    req.end();
  });
}
