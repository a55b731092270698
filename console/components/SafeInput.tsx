// An example's input as an annotator sees it. The corpus holds real HTML e-mails, scripts and remote
// images included: HTML is drawn in a frame sandboxed without scripts, forms or an origin, under a
// policy of its own that loads nothing from anywhere (the page's own policy, which the frame inherits,
// forbids inline script besides); the source can be read as plain text, which React escapes.
import { useMemo, useState } from 'react';

/** The frame's own policy: nothing runs and nothing loads; inline styles only, images only as data: URIs. */
const FRAME_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; font-src 'none'; form-action 'none'; base-uri 'none'";

const looksLikeHtml = (text: string) => /<\s*(html|body|div|p|table|br|a|img|font|script|style|span|td|head)\b/i.test(text);

/**
 * The sandbox stops scripts, forms and popups, and the policy stops every load, but neither stops the
 * frame navigating itself: a click on a link, a <meta http-equiv=refresh>, would load a remote page (a
 * tracker) into it. Those are taken out here, in a document DOMParser makes inert (nothing in it runs or
 * loads); what a link pointed to stays readable in the source view.
 */
function withoutNavigation(text: string): string {
  const parsed = new DOMParser().parseFromString(text, 'text/html');
  parsed.querySelectorAll('meta[http-equiv], base').forEach((el) => el.remove());
  parsed.querySelectorAll('a, area').forEach((el) => {
    el.removeAttribute('href');
    el.removeAttributeNS('http://www.w3.org/1999/xlink', 'href');
    el.removeAttribute('ping');
  });
  parsed.head.prepend(Object.assign(parsed.createElement('meta'), { httpEquiv: 'Content-Security-Policy', content: FRAME_CSP }));
  parsed.head.prepend(Object.assign(parsed.createElement('meta'), { httpEquiv: 'Content-Type', content: 'text/html; charset=utf-8' }));
  return `<!doctype html>${parsed.documentElement.outerHTML}`;
}

/** Text as text (React escapes it); a region that takes focus, so a keyboard can scroll a long one. */
function Text({ name, text }: { name: string; text: string }) {
  return (
    <pre className="input-text" tabIndex={0} role="region" aria-label={name}>
      {text === '' ? <span className="hint">(empty)</span> : text}
    </pre>
  );
}

function HtmlField({ name, text }: { name: string; text: string }) {
  const [source, setSource] = useState(false);
  const doc = useMemo(() => withoutNavigation(text), [text]);
  return (
    <div className="field">
      <div className="field-head">
        <h3>{name}</h3>
        <button type="button" onClick={() => setSource((s) => !s)} aria-pressed={source}>
          {source ? 'Show rendered' : 'Show source'}
        </button>
      </div>
      {source ? (
        <Text name={`${name}, source`} text={text} />
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
      {/* Short fields (subject, sender) before long ones (the body), whatever order the store kept. */}
      {Object.entries(input)
        .sort(([, a], [, b]) => Number(a.length > 200 || a.includes('\n')) - Number(b.length > 200 || b.includes('\n')))
        .map(([name, text]) =>
          looksLikeHtml(text) ? (
            <HtmlField key={name} name={name} text={text} />
          ) : (
            <div className="field" key={name}>
              <h3>{name}</h3>
              <Text name={name} text={text} />
            </div>
          ),
        )}
    </div>
  );
}
