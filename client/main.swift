import ClientCommands

await DaibanCommand.start()
