// IP addresses as device path nodes store them (4 or 16 bytes) and as their typed form writes
// them: dotted quads, and eight 4-digit hex groups (`::` accepted when parsing).
import { EfiError } from './errors.js';

function invalid(message: string): EfiError {
  return new EfiError('EFI_INVALID_ARGUMENT', message);
}

/** Dotted-quad text of 4 bytes. */
export function ipv4Text(bytes: Uint8Array): string {
  return Array.from(bytes, String).join('.');
}

/** Eight lowercase 4-digit hex groups of 16 bytes. */
export function ipv6Text(bytes: Uint8Array): string {
  return Array.from({ length: 8 }, (_, i) =>
    (((bytes[2 * i] ?? 0) << 8) | (bytes[2 * i + 1] ?? 0)).toString(16).padStart(4, '0'),
  ).join(':');
}

/** The 4 bytes of a dotted-quad IPv4 address. Throws EFI_INVALID_ARGUMENT naming `what`. */
export function parseIpv4(text: string, what: string): Uint8Array {
  const parts = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text);
  const octets = parts?.slice(1).map(Number) ?? [];
  if (octets.length !== 4 || octets.some((octet) => octet > 255)) {
    throw invalid(`${what} ${JSON.stringify(text)} is not a dotted-quad IPv4 address`);
  }
  return Uint8Array.from(octets);
}

/** The 16 bytes of an IPv6 address in hex groups, `::` allowed. Throws EFI_INVALID_ARGUMENT. */
export function parseIpv6(text: string, what: string): Uint8Array {
  const fail = (): EfiError =>
    invalid(`${what} ${JSON.stringify(text)} is not an IPv6 address (hex groups, optional ::)`);
  const halves = text.split('::');
  if (halves.length > 2) throw fail();
  const groupsOf = (part: string | undefined): string[] =>
    part === undefined || part === '' ? [] : part.split(':');
  const head = groupsOf(halves[0]);
  const tail = groupsOf(halves[1]);
  const missing = 8 - head.length - tail.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) throw fail();
  const groups = [...head, ...Array.from({ length: missing }, () => '0'), ...tail];
  const bytes = new Uint8Array(16);
  groups.forEach((group, index) => {
    if (!/^[0-9a-f]{1,4}$/i.test(group)) throw fail();
    const value = Number.parseInt(group, 16);
    bytes[2 * index] = value >> 8;
    bytes[2 * index + 1] = value & 0xff;
  });
  return bytes;
}
