import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import sharp from 'sharp';
import { SNIFF_BYTES, sniffMime } from './sniff.ts';

const image = (format: 'png' | 'jpeg' | 'gif' | 'webp') =>
  sharp({ create: { width: 4, height: 4, channels: 3, background: 'red' } })
    .toFormat(format)
    .toBuffer();

describe('sniffMime', () => {
  it('knows images by their signature, whatever the name or the client says', async () => {
    assert.equal(await sniffMime(await image('png')), 'image/png');
    assert.equal(await sniffMime(await image('jpeg')), 'image/jpeg');
    assert.equal(await sniffMime(await image('gif')), 'image/gif');
    assert.equal(await sniffMime(await image('webp')), 'image/webp');
    assert.equal(await sniffMime(Buffer.from('%PDF-1.7\n%âãÏÓ\n1 0 obj\n')), 'application/pdf');
  });

  it('knows SVG and HTML, prolog or not, so they can be served as the active content they are', async () => {
    const svg = [
      '<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
      '\uFEFF<?xml version="1.0"?>\n<!-- made by hand -->\n<!DOCTYPE svg PUBLIC "-//W3C//DTD SVG 1.1//EN" "x">\n<SVG>',
    ];
    for (const text of svg) assert.equal(await sniffMime(Buffer.from(text)), 'image/svg+xml', text);
    for (const text of [
      '<!DOCTYPE html><p>x',
      '  <html><body>',
      '<script>alert(1)</script>',
      '<!-- c --><iframe src=x>',
    ])
      assert.equal(await sniffMime(Buffer.from(text)), 'text/html; charset=utf-8', text);
  });

  it('says text for UTF-8 text (empty included), octet-stream for anything else', async () => {
    assert.equal(await sniffMime(Buffer.from('plain words, ünïcödé\n')), 'text/plain; charset=utf-8');
    assert.equal(await sniffMime(Buffer.alloc(0)), 'text/plain; charset=utf-8');
    assert.equal(await sniffMime(Buffer.from([0x00, 0x01, 0x02, 0x80, 0x81])), 'application/octet-stream');
    assert.equal(await sniffMime(Buffer.from('text\u0000with a NUL')), 'application/octet-stream');
    assert.equal(await sniffMime(Buffer.from('<?xml version="1.0"?><feed/>')), 'application/xml');
  });

  it('reads text cut inside a multi-byte character at the end of the head as text', async () => {
    const head = Buffer.from('é'.repeat(SNIFF_BYTES)).subarray(0, SNIFF_BYTES - 1);
    assert.equal(await sniffMime(Buffer.concat([head, Buffer.from([0xc3])])), 'text/plain; charset=utf-8');
  });

  it('goes by the first signature in a polyglot: a GIF carrying HTML is a GIF', async () => {
    const polyglot = Buffer.concat([Buffer.from('GIF89a'), Buffer.from('<script>alert(1)</script>')]);
    assert.equal(await sniffMime(polyglot), 'image/gif');
  });
});
