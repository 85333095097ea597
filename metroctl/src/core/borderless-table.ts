// Monogon's table layout for every metroctl table: upper-case headers, no borders, each column
// as wide as its widest cell plus three spaces, no colours and no trailing spaces.
import Table from 'cli-table3';

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

/** `head` and `rows` as aligned lines joined by newlines (no trailing newline). */
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
  for (const row of rows) table.push([...row]);
  return table
    .toString()
    .split('\n')
    .map((line) => line.trimEnd())
    .join('\n');
}
