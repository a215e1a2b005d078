/**
 * Server-rendered HTML for the operator console: every value passes through `html` (record names, reasons
 * and keys are outside input), so a page never carries markup it did not write itself.
 */
const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Markup that is already safe: what `html` and `raw` make. */
export class Safe {
  constructor(readonly text: string) {}
  toString(): string {
    return this.text;
  }
}

export const escapeHtml = (value: unknown): string => String(value).replace(/[&<>"']/gu, (c) => ESCAPES[c]!);

type Part = Safe | string | number | boolean | null | undefined | ReadonlyArray<Safe>;

/** A template tag: interpolated values are escaped; `Safe` parts (and arrays of them) go in as they are. */
export function html(strings: TemplateStringsArray, ...parts: Part[]): Safe {
  let out = strings[0] ?? '';
  parts.forEach((part, i) => {
    if (part instanceof Safe) out += part.text;
    else if (Array.isArray(part)) out += part.map((p: Safe) => p.text).join('');
    else if (part !== null && part !== undefined) out += escapeHtml(part);
    out += strings[i + 1] ?? '';
  });
  return new Safe(out);
}

/** The page frame: no script, no external resource; one small stylesheet. */
export function page(title: string, body: Safe): string {
  return html`<!doctype html>
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <!-- same-origin: a POST then carries its Origin (no-referrer would send "null"), and the token never leaves the console -->
        <meta name="referrer" content="same-origin" />
        <title>${title} · connector console</title>
        <style>
          body {
            font:
              14px/1.4 system-ui,
              sans-serif;
            margin: 1.5rem;
            color: #222;
            max-width: 70rem;
          }
          table {
            border-collapse: collapse;
            margin: 0.5rem 0 1rem;
          }
          th,
          td {
            border-bottom: 1px solid #ddd;
            padding: 0.25rem 0.6rem;
            text-align: left;
            vertical-align: top;
          }
          .bad {
            color: #a00;
            font-weight: 600;
          }
          .ok {
            color: #070;
          }
          form.inline {
            display: inline;
          }
          button {
            cursor: pointer;
          }
          section {
            border: 1px solid #ccc;
            border-radius: 6px;
            padding: 0.5rem 1rem;
            margin: 1rem 0;
          }
        </style>
      </head>
      <body>
        ${body}
      </body>
    </html>`.text;
}

/** A small bar chart as inline SVG: one bar per value, the largest full height, with a title per bar. */
export function barChart(label: string, points: ReadonlyArray<{ x: string; y: number }>, color: string): Safe {
  const width = 480;
  const height = 80;
  const max = Math.max(1, ...points.map((p) => p.y));
  const step = width / Math.max(1, points.length);
  const bars = points.map((p, i) => {
    const h = Math.round((p.y / max) * (height - 14));
    return html`<rect
      x="${(i * step + 1).toFixed(1)}"
      y="${height - h}"
      width="${Math.max(1, step - 2).toFixed(1)}"
      height="${h}"
      fill="${color}"
      ><title>${p.x}: ${p.y}</title></rect
    >`;
  });
  return html`<figure>
    <svg role="img" aria-label="${label}" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">${bars}</svg>
    <figcaption>${label} (max ${max} an hour)</figcaption>
  </figure>`;
}
