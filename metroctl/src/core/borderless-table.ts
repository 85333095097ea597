// Monogon's table layout for every metroctl table: upper-case headers, no borders, each column
// as wide as its widest cell plus three spaces, no colours and no trailing spaces; one line per
// row.
import Table from 'cli-table3';
import { escapeControlCharacters } from './terminal-text.js';

const borderless = {
  top: '',
  'top-mid': '',
  'top-left': '',
  'top-right': '',
  bottom: '',
  'bottom-mid': '',
  'bottom-left': '',
  'bottom-right': '',
  left: '',
  'left-mid': '',
  mid: '',
  'mid-mid': '',
  right: '',
  'right-mid': '',
  middle: '   ',
};

/**
 * `head` and `rows` as aligned lines joined by newlines (no trailing newline). Cells often hold
 * what nodes report, so their control characters are escaped.
 */
export function renderBorderlessTable(
  head: readonly string[],
  rows: readonly (readonly string[])[],
): string {
  const table = new Table({
    head: [...head],
    chars: borderless,
    // No colours: the output is read by scripts as often as by people.
    style: { head: [], border: [], 'padding-left': 0, 'padding-right': 0 },
  });
  for (const row of rows) table.push(row.map(escapeControlCharacters));
  return table
    .toString()
    .split('\n')
    .map((line) => line.trimEnd())
    .join('\n');
}
