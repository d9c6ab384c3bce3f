// Each test class runs the whole service; Hangfire keeps process-global state (JobStorage.Current), so the
// classes of this assembly run one after another, never two services at once.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
