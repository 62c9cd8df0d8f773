export type { ErrorData, FieldError } from './api-error.ts';
export {
  ApiError,
  badRequest,
  fieldError,
  forbidden,
  hasErrors,
  notFound,
  tooManyRequests,
  unauthorized,
} from './api-error.ts';
