/**
 * RFC 4180 records with their starting line numbers. OFAC's classic files quote fields that hold
 * commas or quotes and write "-0- " for an empty field; a trailing ^Z (0x1A) line is ignored.
 */
export interface CsvRecord {
  line: number;
  fields: string[];
}

export function* csvRecords(text: string): Generator<CsvRecord> {
  const n = text.length;
  let i = 0;
  let line = 1;
  while (i < n) {
    const start = line;
    const fields: string[] = [];
    let field = '';
    let quoted = false;
    for (;;) {
      if (i >= n) {
        fields.push(field);
        break;
      }
      const c = text[i];
      if (quoted) {
        if (c === '"') {
          if (text[i + 1] === '"') {
            field += '"';
            i += 2;
          } else {
            quoted = false;
            i++;
          }
        } else {
          if (c === '\n') line++;
          field += c;
          i++;
        }
      } else if (c === '"' && field === '') {
        quoted = true;
        i++;
      } else if (c === ',') {
        fields.push(field);
        field = '';
        i++;
      } else if (c === '\n' || c === '\r') {
        fields.push(field);
        if (c === '\r' && text[i + 1] === '\n') i++;
        i++;
        line++;
        break;
      } else {
        field += c;
        i++;
      }
    }
    if (fields.length === 1 && (fields[0] === '' || fields[0] === '\x1a')) continue;
    yield { line: start, fields };
  }
}

/** OFAC's null marker "-0-" (usually written "-0- ") → empty string. */
export function ofacField(v: string | undefined): string {
  const t = (v ?? '').trim();
  return t === '-0-' ? '' : t;
}
