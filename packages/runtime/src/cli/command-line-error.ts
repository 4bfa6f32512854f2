/** A mistake on the command line or in the app module: printed with the usage, exit code 2. */
export class CommandLineError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "CommandLineError";
  }
}
