using ChainMargin.Bench;

// bench/run NAME [args...]: each benchmark prints its results; its last line is the machine-readable summary.
switch (args.Length > 0 ? args[0] : "")
{
    case "margin":
        return MarginBench.Run(args[1..]);

    case "indexing":
        return IndexingBench.Run(args[1..]);

    case "keeper":
        // Placeholder: the keeper benchmark is filled in by its owner.
        Console.WriteLine("keeper: not implemented yet");
        return 2;

    default:
        Console.Error.WriteLine("usage: ChainMargin.Bench (margin | indexing | keeper) [args...]");
        return 2;
}
