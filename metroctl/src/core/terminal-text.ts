// Text from nodes (versions, health messages, logs) reaches a terminal only with its control
// characters escaped: a node must not be able to move the cursor, retitle the window or hide
// lines in the owner's terminal.

const escapes: Readonly<Record<string, string>> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

/** C0 controls, DEL and C1 controls shown as `\n`, `\t`, `\r` or `\xHH`; the rest unchanged. */
export function escapeControlCharacters(text: string): string {
  // eslint-disable-next-line no-control-regex -- matching control characters is the point
  return text.replace(/[\u0000-\u001f\u007f-\u009f]/g, (character) => {
    return escapes[character] ?? `\\x${character.charCodeAt(0).toString(16).padStart(2, '0')}`;
  });
}
