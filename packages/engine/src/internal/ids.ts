/**
 * bookbroker's ids are PostgreSQL `uuid`s. An id from outside (a path, a query, a CLI argument)
 * is checked against this shape before it reaches SQL: PostgreSQL refuses anything else with an
 * error (a 500), where the caller deserves a "not found". One pattern, used everywhere an id
 * comes in (36 dashes have the length of a uuid and are not one).
 */
export const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

/** True for a canonical uuid: `8-4-4-4-12` hexadecimal digits. */
export const isUuid = (id: string): boolean => uuidPattern.test(id)
