// An example's input as an annotator sees it. The corpus holds real HTML e-mails, scripts and remote
// images included: HTML is drawn in a frame sandboxed without scripts, forms or an origin, under a
// policy of its own that loads nothing from anywhere (the page's own policy, which the frame inherits,
// forbids inline script besides); the source can be read as plain text, which React escapes.
import { useState } from 'react';

/** The frame's own policy: nothing runs and nothing loads; inline styles only, images only as data: URIs. */
const FRAME_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; font-src 'none'; form-action 'none'; base-uri 'none'";

const looksLikeHtml = (text: string) => /<\s*(html|body|div|p|table|br|a|img|font|script|style|span|td|head)\b/i.test(text);

function HtmlField({ name, text }: { name: string; text: string }) {
  const [source, setSource] = useState(false);
  const doc = `<!doctype html><html><head><meta charset="utf-8"><meta http-equiv="Content-Security-Policy" content="${FRAME_CSP}"></head><body>${text}</body></html>`;
  return (
    <div className="field">
      <div className="field-head">
        <h3>{name}</h3>
        <button type="button" onClick={() => setSource((s) => !s)} aria-pressed={source}>
          {source ? 'Show rendered' : 'Show source'}
        </button>
      </div>
      {source ? (
        <pre className="input-text">{text}</pre>
      ) : (
        // sandbox="" : no scripts, no forms, no popups, no same-origin access, no top navigation.
        <iframe className="input-frame" sandbox="" srcDoc={doc} title={`${name}, drawn without scripts or remote content`} referrerPolicy="no-referrer" />
      )}
    </div>
  );
}

export function SafeInput({ input }: { input: Record<string, string> }) {
  return (
    <div className="safe-input">
      {Object.entries(input).map(([name, text]) =>
        looksLikeHtml(text) ? (
          <HtmlField key={name} name={name} text={text} />
        ) : (
          <div className="field" key={name}>
            <h3>{name}</h3>
            <pre className="input-text">{text}</pre>
          </div>
        ),
      )}
    </div>
  );
}
