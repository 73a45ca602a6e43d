/** The SecretBox that seals signing secrets and custom header values. */
export const SECRET_BOX = Symbol('SECRET_BOX');
