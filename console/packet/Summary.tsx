// The packet's header (what is judged, on what, under which policy, and the hash the approver signs),
// the policy's rules with their outcomes and evidence, and the segments the evaluation never saw.
import { useMemo } from 'react';
import { PlotFigure } from '../components/PlotFigure';
import { fmt, interval, pct } from '../format';
import type { Packet } from './model';
import { shareSpec } from './specs';

export function PacketHeader({ packet, packetHash }: { packet: Packet; packetHash: string | null }) {
  const { heldOut } = packet;
  return (
    <section aria-labelledby="packet-header">
      <h2 id="packet-header">Approval packet</h2>
      <dl className="facts">
        <dt>Model</dt>
        <dd>{packet.model}</dd>
        <dt>Candidate</dt>
        <dd>v{packet.candidate.version}</dd>
        <dt>Champion</dt>
        <dd>{packet.champion ? `v${packet.champion.version}` : 'no champion (nothing in production)'}</dd>
        <dt>Held-out rows</dt>
        <dd>
          {heldOut.rows} ({heldOut.positives} positive, {heldOut.negatives} negative)
        </dd>
        <dt>Policy version</dt>
        <dd>{packet.policyVersion === null ? 'no policy' : packet.policyVersion}</dd>
        <dt>Decision of the policy</dt>
        <dd>
          <span className={`badge ${packet.judgement.decision}`}>{packet.judgement.decision.replace('_', ' ')}</span>
        </dd>
        <dt>Packet hash</dt>
        <dd>
          <code className="hash packet-hash">
            {packetHash ?? '—'}
          </code>
        </dd>
      </dl>
      <p className="hint">The packet hash is what an approval signs: the decision is bound to exactly this evidence.</p>
    </section>
  );
}

type RuleResult = Packet['judgement']['rules'][number];

function RuleEvidence({ rule }: { rule: RuleResult }) {
  if (rule.checks.length === 0) return null;
  return (
    <details>
      <summary>
        {rule.checks.length} check{rule.checks.length === 1 ? '' : 's'} of {rule.id}
      </summary>
      <table>
        <caption className="hint">What rule {rule.id} judged, slice by slice</caption>
        <thead>
          <tr>
            <th scope="col">Slice</th>
            <th scope="col">Outcome</th>
            <th scope="col" className="num">
              Observed
            </th>
            <th scope="col" className="num">
              95% interval
            </th>
            <th scope="col">Evidence</th>
          </tr>
        </thead>
        <tbody>
          {rule.checks.map((c, i) => (
            <tr key={`${c.slice}-${i}`}>
              <th scope="row">{c.slice}</th>
              <td>
                <span className={`badge ${c.outcome}`}>{c.outcome.replace('_', ' ')}</span>
              </td>
              <td className="num">{fmt(c.observed?.estimate)}</td>
              <td className="num">{c.observed ? interval(c.observed.lower, c.observed.upper) : '—'}</td>
              <td>{c.detail}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </details>
  );
}

export function RulesSection({ packet }: { packet: Packet }) {
  const { rules, reasons } = packet.judgement;
  return (
    <section aria-labelledby="packet-rules">
      <h2 id="packet-rules">Rules</h2>
      {rules.length === 0 ? (
        <p className="state empty">{reasons.join('; ') || 'No rules were judged.'}</p>
      ) : (
        <table>
          <caption className="hint">Every rule of the policy, its outcome and the evidence behind it</caption>
          <thead>
            <tr>
              <th scope="col">Rule</th>
              <th scope="col">Kind</th>
              <th scope="col">Outcome</th>
              <th scope="col">On failure</th>
              <th scope="col">Evidence</th>
            </tr>
          </thead>
          <tbody>
            {rules.map((r) => (
              <tr key={r.id}>
                <th scope="row">{r.id}</th>
                <td>{r.kind.replace('_', ' ')}</td>
                <td>
                  <span className={`badge ${r.outcome}`}>{r.outcome.replace('_', ' ')}</span>
                </td>
                <td>{r.onFail === 'block' ? 'blocks' : 'asks a human'}</td>
                <td>
                  <p className="rule-detail">{r.detail}</p>
                  <RuleEvidence rule={r} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

export function UntestedSection({ packet }: { packet: Packet }) {
  const rows = useMemo(() => packet.untested.map((u) => ({ label: `${u.attribute}=${u.value}`, share: u.trafficShare, reason: u.reason })), [packet]);
  const spec = useMemo(() => shareSpec(rows), [rows]);
  return (
    <section aria-labelledby="packet-untested">
      <h2 id="packet-untested">Untested segments</h2>
      {rows.length === 0 ? (
        <p className="state empty">Every segment seen in traffic has enough held-out rows.</p>
      ) : (
        <>
          <PlotFigure spec={spec} label="Traffic share of each untested segment" caption="Red: absent from the held-out set; amber: too few held-out rows to judge." />
          <table>
            <caption className="hint">Segments of production traffic the evaluation did not test, or tested on too few rows</caption>
            <thead>
              <tr>
                <th scope="col">Segment</th>
                <th scope="col" className="num">
                  Traffic
                </th>
                <th scope="col" className="num">
                  Share of traffic
                </th>
                <th scope="col" className="num">
                  Held-out rows
                </th>
                <th scope="col">Why</th>
              </tr>
            </thead>
            <tbody>
              {packet.untested.map((u) => (
                <tr key={`${u.attribute}=${u.value}`}>
                  <th scope="row">
                    {u.attribute}={u.value}
                  </th>
                  <td className="num">{u.trafficCount}</td>
                  <td className="num">{pct(u.trafficShare)}</td>
                  <td className="num">{u.heldOutSupport}</td>
                  <td>{u.reason === 'absent' ? 'absent' : 'insufficient'}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      )}
    </section>
  );
}
