import { readFileSync } from 'node:fs';
import type { StartTaskRequest } from '../../../gen/grove/agent/v1/agent_service.js';
import type { Profile } from '../../../gen/grove/agent/v1/agent_service.js';
import { failedPrecondition, invalidArgument, notFound } from '../../common/errors.js';
import { StartupError } from '../../common/startup-error.js';
import { mergeProfiles, parseProfiles, profileArgv, type ProfileSpec } from '../domain/profiles.js';

/** Built-ins plus the profiles of `file` (--profiles); a bad file stops start-up with what is wrong. */
export function loadProfiles(file: string | undefined): ProfileSpec[] {
  if (!file) return mergeProfiles([]);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new StartupError(`cannot read --profiles ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, { usage: true });
  }
  try {
    return mergeProfiles(parseProfiles(text, file));
  } catch (err) {
    throw new StartupError(`bad --profiles file: ${(err as Error).message}`, { usage: true });
  }
}

export const toProfileProto = (p: ProfileSpec): Profile => ({ ...p, env: { ...p.env } });

/**
 * A start request with its profile applied: the argv and environment the profile gives, for
 * the terminal or one-shot form, continued or not. `hooksFile` is where the run's hook
 * settings will be written (inside its run directory).
 */
export function applyProfile(
  request: StartTaskRequest,
  profiles: readonly ProfileSpec[],
  hooksFile: string,
): StartTaskRequest & { hooks: ProfileSpec['activityHooks'] } {
  if (!request.profile) {
    if (request.continue)
      throw invalidArgument('CONTINUE_NEEDS_PROFILE', '--continue needs --profile: only a profile knows how to continue');
    return { ...request, hooks: 'none' };
  }
  const profile = profiles.find((p) => p.name === request.profile);
  if (!profile) {
    throw notFound(
      'PROFILE_NOT_FOUND',
      `no profile "${request.profile.slice(0, 64)}"; see \`grove profile ls\` (${profiles.map((p) => p.name).join(', ')})`,
    );
  }
  if (request.argv.length > 0) throw invalidArgument('ARGV_WITH_PROFILE', 'give either a command or --profile, not both');
  const argv = profileArgv(profile, { prompt: request.prompt, tty: request.tty, continueConversation: request.continue }, hooksFile);
  if ('problem' in argv) throw invalidArgument('PROFILE_NEEDS_PROMPT', argv.problem);
  const env = { ...profile.env, ...request.env };
  const missing = profile.requiredEnv.filter((key) => !env[key] && !process.env[key]);
  if (missing.length > 0) {
    throw failedPrecondition(
      'PROFILE_ENV_MISSING',
      `profile ${profile.name} needs ${missing.join(', ')} set (in the agent's environment or with --env)`,
    );
  }
  return { ...request, argv, env, hooks: profile.activityHooks };
}
