/*
 * Plain-text output of the local tools: every value that came from outside (an event's id or
 * type, a response body, an error text) passes through `printable` before it reaches a
 * terminal, and tables are laid out by `formatTable`. A signed event can carry any string, and a
 * raw ESC or U+202E in an id would let it recolour the terminal or reverse the rest of the line.
 */

// C0 controls and DEL, C1 controls, and the invisible characters that reorder or hide text:
// the bidi marks, embeddings, overrides and isolates, zero-width characters, the line and
// paragraph separators, and the byte-order mark.
const unprintable = /[\u0000-\u001f\u007f-\u009f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]/gu;

/** The longest a table cell is shown; past it the cell ends in an ellipsis with the length. */
export const maxCellLength = 120;

function escape(character: string): string {
  const code = character.codePointAt(0) ?? 0;
  return `\\u{${code.toString(16).toUpperCase().padStart(4, "0")}}`;
}

/**
 * `text` safe to print: each control or invisible formatting character becomes `\u{XXXX}`, and
 * a backslash becomes `\\`, so an escape always means the character was really there.
 */
export function printable(text: string): string {
  return text.replace(/\\/g, "\\\\").replace(unprintable, escape);
}

/** `text` made printable and cut to `max` characters, saying how long it really was. */
export function cell(text: string, max = maxCellLength): string {
  const shown = printable(text);
  if (shown.length <= max) return shown;
  const note = `… (${text.length} characters)`;
  return `${shown.slice(0, Math.max(0, max - note.length))}${note}`;
}

/**
 * Columns padded to their widest cell and separated by two spaces, every cell passed through
 * {@link cell}. The last column is left unpadded (it ends the line); `trimEnd` drops the
 * spaces a short last cell would otherwise leave.
 */
export function formatTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const cells = rows.map((row) => row.map((value) => cell(value)));
  const widths = header.map((title, column) => Math.max(title.length, ...cells.map((row) => row[column]?.length ?? 0)));
  const line = (values: readonly string[]) =>
    values
      .map((value, column) => (column === values.length - 1 ? value : value.padEnd(widths[column] ?? 0)))
      .join("  ")
      .trimEnd();
  return [line(header), ...cells.map(line)].join("\n");
}
