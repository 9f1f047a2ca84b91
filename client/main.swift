import ClientCommands

DaibanCommand.start()
