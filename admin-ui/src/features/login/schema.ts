import { z } from "zod";

/** The login form; the server's limits are checked there too (invalid_credentials_format). */
export const loginFormSchema = z.object({
  username: z.string().trim().min(1, "Enter your username").max(64, "At most 64 characters"),
  password: z.string().min(1, "Enter your password").max(256, "At most 256 characters"),
});
export type LoginForm = z.infer<typeof loginFormSchema>;
