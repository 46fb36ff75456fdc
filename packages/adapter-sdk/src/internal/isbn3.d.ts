declare module "isbn3/lib/calculate_check_digit.js" {
  /** The check digit for 9 (ISBN-10) or 12 (ISBN-13) leading digits; `null` for other lengths. */
  const calculateCheckDigit: (digits: string) => string | null
  export default calculateCheckDigit
}
