export type { ErrorData, FieldError } from './api-error.ts';
export {
  ApiError,
  badRequest,
  fieldError,
  forbidden,
  hasErrors,
  notFound,
  serviceUnavailable,
  tooManyRequests,
  unauthorized,
} from './api-error.ts';
