import { jobKind, jobState } from '../format.js';
import type { Live } from '../live.js';

export function JobsView({ live }: { live: Live }) {
  const jobs = [...live.tables.jobs.values()].sort((a, b) => (b.createTime?.getTime() ?? 0) - (a.createTime?.getTime() ?? 0));
  if (jobs.length === 0) return <p className="empty">No jobs.</p>;
  return (
    <table>
      <thead>
        <tr>
          <th>Job</th>
          <th>Agent</th>
          <th>State</th>
          <th>Progress</th>
          <th>Error</th>
        </tr>
      </thead>
      <tbody>
        {jobs.map((job) => (
          <tr key={job.id} data-testid="job-row">
            <td>
              {jobKind(job.kind)} <small>{job.id}</small>
            </td>
            <td>{live.tables.agents.get(job.agentId)?.name ?? job.agentId}</td>
            <td>{jobState(job.state)}</td>
            <td>
              <progress max={100} value={job.progressPercent} /> <small>{job.progressMessage}</small>
            </td>
            <td className="error">{job.error}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
