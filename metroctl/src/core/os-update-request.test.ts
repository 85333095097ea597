// `update apply` flags: what becomes the spec, what is refused locally (with the flag named),
// and what is left to the API server's CRD rules.
import test, { type ExecutionContext } from 'ava';
import { MetroctlError } from '../errors.js';
import {
  parseMaxUnavailable,
  parseNodeSelector,
  parseOSUpdateRequest,
  parseServeAddress,
  parseSha256,
} from './os-update-request.js';

const digest = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

/** `fn` throws a METROCTL_USAGE error whose message matches. */
function refuses(t: ExecutionContext, fn: () => unknown, message: RegExp): void {
  const error = t.throws(fn, { instanceOf: MetroctlError, message });
  t.is(error.code, 'METROCTL_USAGE');
}

test('a URL with its digest and no other flags gives a minimal spec', (t) => {
  t.deepEqual(
    parseOSUpdateRequest({
      bundle: 'https://releases.example.com/0.2.0.bundle',
      version: '0.2.0',
      sha256: digest,
    }),
    {
      name: undefined,
      source: { kind: 'url', url: 'https://releases.example.com/0.2.0.bundle', sha256: digest },
      spec: { version: '0.2.0' },
    },
  );
});

test('every flag lands in the spec', (t) => {
  const request = parseOSUpdateRequest({
    bundle: './out/0.2.0.bundle',
    version: '0.2.0',
    name: 'to-0.2.0',
    selector: ['example.com/rack=r1,tier!=canary', '!draining'],
    maxUnavailable: '25%',
    failurePolicy: 'revert',
    bootTimeout: '15m',
    healthTimeout: '90s',
    serveAddress: '10.1.0.1',
    paused: true,
  });
  t.deepEqual(request, {
    name: 'to-0.2.0',
    source: {
      kind: 'file',
      path: './out/0.2.0.bundle',
      sha256: undefined,
      serveAddress: '10.1.0.1',
    },
    spec: {
      version: '0.2.0',
      nodeSelector: {
        matchLabels: { 'example.com/rack': 'r1' },
        matchExpressions: [
          { key: 'tier', operator: 'NotIn', values: ['canary'] },
          { key: 'draining', operator: 'DoesNotExist' },
        ],
      },
      strategy: {
        maxUnavailable: '25%',
        failurePolicy: 'Revert',
        bootTimeout: '15m',
        healthTimeout: '90s',
      },
      paused: true,
    },
  });
});

test('a URL needs --sha256; a file does not', (t) => {
  refuses(
    t,
    () => parseOSUpdateRequest({ bundle: 'http://10.1.0.1/b.bundle', version: '0.2.0' }),
    /^--sha256 is required with a bundle URL/,
  );
  t.like(parseOSUpdateRequest({ bundle: 'b.bundle', version: '0.2.0' }).source, {
    kind: 'file',
    path: 'b.bundle',
  });
});

test('other schemes and misplaced flags are refused', (t) => {
  refuses(
    t,
    () => parseOSUpdateRequest({ bundle: 'ftp://x/b', version: '1', sha256: digest }),
    /not ftp:\/\//,
  );
  refuses(
    t,
    () =>
      parseOSUpdateRequest({
        bundle: 'https://x/b',
        version: '1',
        sha256: digest,
        serveAddress: '10.0.0.1',
      }),
    /--serve-address applies only to a bundle file/,
  );
  refuses(
    t,
    () => parseOSUpdateRequest({ bundle: 'b', version: ' ' }),
    /--version must not be empty/,
  );
  refuses(t, () => parseOSUpdateRequest({ bundle: 'b', version: '1', name: '' }), /--name/);
  refuses(
    t,
    () => parseOSUpdateRequest({ bundle: 'b', version: '1', failurePolicy: 'Retry' }),
    /--failure-policy must be Halt or Revert, not "Retry"/,
  );
});

test('sha256: 64 hex digits, upper case lowered', (t) => {
  t.is(parseSha256(digest.toUpperCase()), digest);
  for (const bad of ['', 'not-a-digest', digest.slice(1), `${digest}0`, `${digest.slice(1)}g`]) {
    refuses(t, () => parseSha256(bad), /^--sha256 must be 64 hexadecimal digits/);
  }
});

test('max-unavailable: a count of at least 1 or 1%..100%', (t) => {
  t.is(parseMaxUnavailable('1'), 1);
  t.is(parseMaxUnavailable('12'), 12);
  t.is(parseMaxUnavailable('1%'), '1%');
  t.is(parseMaxUnavailable('100%'), '100%');
  for (const bad of ['0', '0%', '101%', '150%', '-1', '1.5', 'abc', '', '01', '5 %']) {
    refuses(
      t,
      () => parseMaxUnavailable(bad),
      /^--max-unavailable must be a node count of at least 1 or a percentage from 1% to 100%/,
    );
  }
});

test('selector terms', (t) => {
  t.is(parseNodeSelector([]), undefined);
  t.is(parseNodeSelector(['', ',']), undefined);
  t.deepEqual(parseNodeSelector(['a=1', 'b==2,c']), {
    matchLabels: { a: '1', b: '2' },
    matchExpressions: [{ key: 'c', operator: 'Exists' }],
  });
  t.deepEqual(parseNodeSelector(['a=1,a=1']), { matchLabels: { a: '1' } });
  refuses(t, () => parseNodeSelector(['a=1,a=2']), /no node has both/);
  refuses(t, () => parseNodeSelector(['a=b=c']), /"a=b=c" is not key=value/);
});

test('serve address: an IP of this machine, not unspecified', (t) => {
  t.is(parseServeAddress('10.1.0.1'), '10.1.0.1');
  t.is(parseServeAddress('[fd00::1]'), 'fd00::1');
  refuses(t, () => parseServeAddress('metroctl.example.com'), /must be an IP address/);
  refuses(t, () => parseServeAddress('0.0.0.0'), /unspecified/);
  refuses(t, () => parseServeAddress('::'), /unspecified/);
});
