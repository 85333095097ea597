// `efi dump`: the boot manager's variables as JSON (for scripts) or as a table (for people).
import Table from 'cli-table3';
import {
  BootVariables,
  EfiVarStore,
  readBootConfiguration,
  type BootConfiguration,
} from '@metropolis/efi';

export async function efiDump(efivarfs: string): Promise<BootConfiguration> {
  return readBootConfiguration(new BootVariables(new EfiVarStore(efivarfs)));
}

export function renderBootConfiguration(config: BootConfiguration): string {
  const marks = (id: string): string =>
    [id === config.bootCurrent ? 'current' : '', id === config.bootNext ? 'next' : '']
      .filter((mark) => mark !== '')
      .join(',');
  const table = new Table({
    head: ['ID', 'ACTIVE', 'ORDER', 'BOOT', 'DESCRIPTION', 'DEVICE PATH', 'OPTIONAL DATA'],
    chars: borderless,
    style: { head: [], border: [], 'padding-left': 0, 'padding-right': 3 },
  });
  for (const entry of config.entries) {
    const position = config.bootOrder.indexOf(entry.id);
    table.push([
      entry.id,
      entry.active ? 'yes' : 'no',
      position < 0 ? '-' : String(position + 1),
      marks(entry.id),
      entry.description,
      entry.devicePath,
      entry.optionalData,
    ]);
  }
  const summary = [
    `BootCurrent: ${config.bootCurrent ?? '-'}`,
    `BootNext: ${config.bootNext ?? '-'}`,
    `BootOrder: ${config.bootOrder.join(',') || '-'}`,
  ].join('   ');
  return `${summary}\n${table.toString()}\n`;
}

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
  middle: '',
};
