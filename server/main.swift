import SyncServer

await DaibanServerCommand.start()
