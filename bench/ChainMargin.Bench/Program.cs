using ChainMargin.Bench;

// bench/run NAME [args...]: each benchmark prints its results; its last line is the machine-readable summary.
switch (args.Length > 0 ? args[0] : "")
{
    case "margin":
        return MarginBench.Run(args[1..]);

    case "indexing":
        return IndexingBench.Run(args[1..]);

    case "keeper":
        return KeeperBench.Run(args[1..]);

    default:
        Console.Error.WriteLine("usage: ChainMargin.Bench (margin | indexing | keeper) [args...]");
        return 2;
}
