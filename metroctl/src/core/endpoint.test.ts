// Node addresses with and without ports, IPv6 included; garbage is a usage error.
import test from 'ava';
import { MetroctlError } from '../errors.js';
import { grpcTarget, parseEndpoint } from './endpoint.js';

test('parses hosts with and without ports', (t) => {
  t.deepEqual(parseEndpoint('10.1.0.2', 7839), { host: '10.1.0.2', port: 7839 });
  t.deepEqual(parseEndpoint('10.1.0.2:4000', 7839), { host: '10.1.0.2', port: 4000 });
  t.deepEqual(parseEndpoint('node-1.example', 7839), { host: 'node-1.example', port: 7839 });
  t.deepEqual(parseEndpoint('fd00::2', 7839), { host: 'fd00::2', port: 7839 });
  t.deepEqual(parseEndpoint('[fd00::2]:4000', 7839), { host: 'fd00::2', port: 4000 });
  t.is(grpcTarget({ host: 'fd00::2', port: 7839 }), '[fd00::2]:7839');
  t.is(grpcTarget({ host: '10.1.0.2', port: 7839 }), '10.1.0.2:7839');
});

test('refuses what is not an address', (t) => {
  for (const text of ['', 'http://10.1.0.2', '10.1.0.2:99999', 'a b', '10.1.0.2:']) {
    const error = t.throws(() => parseEndpoint(text, 7839), { instanceOf: MetroctlError });
    t.is(error.code, 'METROCTL_USAGE', text);
  }
});
