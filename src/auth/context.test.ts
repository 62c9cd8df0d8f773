import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { clientNetwork } from './context.ts';

/**
 * What the per-IP sign-in throttle counts by. Before, it counted each address: one IPv6 host, which
 * usually holds a whole /64, got a fresh budget per address (2^64 of them), and the same IPv4 client
 * reached over an IPv4-mapped socket address was another key again.
 */
describe('clientNetwork', () => {
  it('keeps an IPv4 address as it is', () => {
    for (const ip of ['127.0.0.1', '203.0.113.7', '10.0.0.255']) assert.equal(clientNetwork(ip), ip);
    assert.notEqual(clientNetwork('203.0.113.7'), clientNetwork('203.0.113.8'));
  });

  it('reads an IPv4-mapped IPv6 address as the IPv4 address', () => {
    assert.equal(clientNetwork('::ffff:203.0.113.7'), '203.0.113.7');
    assert.equal(clientNetwork('::FFFF:127.0.0.1'), '127.0.0.1');
  });

  it('gives every address of one /64 the same key', () => {
    const key = clientNetwork('2001:db8:1:2::1');
    for (const ip of [
      '2001:db8:1:2::2',
      '2001:db8:1:2:ffff:ffff:ffff:ffff',
      '2001:db8:1:2:abcd:ef01:2345:6789',
      '2001:db8:1:2::',
      '2001:DB8:1:2::BEEF',
    ])
      assert.equal(clientNetwork(ip), key, ip);
    assert.match(key, /\/64$/);
    assert.ok(!key.includes('::1'), `the interface id is not in the key: ${key}`);
  });

  it('gives different /64s different keys', () => {
    const keys = ['2001:db8:1:2::1', '2001:db8:1:3::1', '2001:db8:2:2::1', '2001:db9:1:2::1', 'fe80::1'].map(
      clientNetwork,
    );
    assert.equal(new Set(keys).size, keys.length, keys.join(' '));
  });

  it('reads zero-compressed and full forms alike', () => {
    const key = clientNetwork('2001:0db8:0000:0000:0000:0000:0000:0001');
    for (const ip of [
      '2001:db8::1',
      '2001:db8:0:0::1',
      '2001:db8::',
      '2001:db8:0:0:1::',
      '2001:db8::1:0:0:1',
    ])
      assert.equal(clientNetwork(ip), key, ip);
    // Compression reaching into the routing prefix: `2001::1:2:3:4` is 2001:0:0:0:1:2:3:4.
    assert.equal(clientNetwork('2001::1:2:3:4'), clientNetwork('2001:0:0:0:ffff::'));
    assert.notEqual(clientNetwork('2001::1:2:3:4'), clientNetwork('2001:0:0:1::'));
    // Leading zeros within a group do not make another key.
    assert.equal(clientNetwork('2001:db8:0001:0002::1'), clientNetwork('2001:db8:1:2::1'));
  });

  it('maps the loopback ::1 to the zero /64, apart from IPv4 loopback', () => {
    const loopback = clientNetwork('::1');
    assert.equal(loopback, clientNetwork('0:0:0:0:0:0:0:1'));
    assert.equal(loopback, clientNetwork('::'));
    assert.match(loopback, /\/64$/);
    assert.notEqual(loopback, clientNetwork('127.0.0.1'));
  });

  it('ignores a zone id', () => {
    const key = clientNetwork('fe80::1');
    assert.equal(clientNetwork('fe80::1%eth0'), key);
    assert.equal(clientNetwork('fe80::abcd%25'), key);
    assert.equal(clientNetwork('FE80::2%en0'), key);
    assert.notEqual(clientNetwork('fe80:0:0:1::1%eth0'), key);
  });
});
