export type { ErrorData, FieldError } from './api-error.ts';
export {
  ApiError,
  badRequest,
  fieldError,
  forbidden,
  hasErrors,
  notFound,
  unauthorized,
} from './api-error.ts';
