import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { addressList, mayConnect } from './safe-download.ts';

describe('mayConnect: where a download of a third party URL may go', () => {
  it('refuses loopback, private, link-local, shared, multicast and unspecified addresses', () => {
    for (const address of [
      '127.0.0.1',
      '127.8.9.10',
      '0.0.0.0',
      '10.1.2.3',
      '172.16.0.1',
      '172.31.255.255',
      '192.168.1.1',
      '169.254.169.254', // cloud metadata
      '100.64.0.1',
      '224.0.0.1',
      '255.255.255.255',
      '::1',
      '::',
      'fd00::1',
      'fe80::1',
      'ff02::1',
      '::ffff:127.0.0.1',
      '::FFFF:10.0.0.1',
      '64:ff9b::7f00:1', // NAT64 of 127.0.0.1
      'not an address',
    ])
      assert.equal(mayConnect(address), false, address);
  });

  it('lets public addresses through', () => {
    for (const address of ['8.8.8.8', '172.32.0.1', '1.1.1.1', '2606:4700::1111', '::ffff:8.8.8.8'])
      assert.equal(mayConnect(address), true, address);
  });

  it('lets through the private ranges a deployment allows, and only those', () => {
    const allow = addressList(['10.0.0.0/8', '127.0.0.1', 'fd00::/8']);
    for (const address of ['10.9.9.9', '127.0.0.1', '::ffff:127.0.0.1', 'fd12::1'])
      assert.equal(mayConnect(address, allow), true, address);
    for (const address of ['127.0.0.2', '192.168.0.1', 'fe80::1'])
      assert.equal(mayConnect(address, allow), false, address);
  });
});
