/** Reported in Hello and AgentInfo; bump with releases. */
export const GROVE_VERSION = '0.1.0';
