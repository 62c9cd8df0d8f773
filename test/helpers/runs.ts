/**
 * How many random cases a property test runs. `npm test` runs `quick` (the suite must fit its 15 minutes on
 * a 2-core machine); long mode (`PLINTH_LONG_TESTS=1`) runs four times as many, for a search that takes
 * its time before a release or after a change to the code a property covers. The suite's own variable
 * (`name`), when set, wins over both.
 */
export function propertyRuns(name: string, quick: number): number {
  const given = process.env[name];
  if (given !== undefined && given !== '') return Number(given);
  return process.env.PLINTH_LONG_TESTS ? quick * 4 : quick;
}
