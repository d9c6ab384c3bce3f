namespace ChainMargin.Core;

/// <summary>One margin method's health at the moment a state was recorded.</summary>
public sealed record MethodHealth(string Method, decimal? Health, string Status);

/// <summary>
/// What a recompute observed for one account: the state record (written only when the state changes) and the health
/// of every method. Every recompute produces one; most change nothing.
/// </summary>
public sealed record AccountObservation(AccountStateRecord Record, IReadOnlyList<MethodHealth> Methods);

/// <summary>
/// Records an account's state on every recompute, with whatever must commit with a change (the webhook outbox).
/// Set by the host on the margin service; without it the chain store records the state alone.
/// </summary>
public interface IAccountStateRecorder
{
    /// <summary>Records the state when it changed; returns false when it is unchanged.</summary>
    Task<bool> RecordAsync(AccountObservation observation, CancellationToken cancellationToken);

    /// <summary>A recompute that left the state as it was: nothing is recorded but the health may be sampled.</summary>
    Task ObserveUnchangedAsync(AccountObservation observation, CancellationToken cancellationToken);
}

/// <summary>The delivery states of the webhook outbox.</summary>
public static class WebhookDeliveryStates
{
    public const string Pending = "pending";
    public const string Delivered = "delivered";

    /// <summary>Given up after the configured number of attempts.</summary>
    public const string Failed = "failed";
}

/// <summary>A webhook subscription. <see cref="States"/> empty means every state change.</summary>
public sealed record WebhookSubscription(
    long Id, Uri Url, string Secret, IReadOnlyList<string> States, bool Enabled, string? Description, DateTimeOffset CreatedAt)
{
    /// <summary>The secret as the API shows it after creation: never the secret itself, only enough to tell two apart.</summary>
    public string MaskedSecret => Secret.Length <= 8 ? "****" : "****" + Secret[^4..];

    /// <summary>Whether a change into <paramref name="state"/> goes to this subscription.</summary>
    public bool Wants(string state) => Enabled && (States.Count == 0 || States.Contains(state, StringComparer.Ordinal));

    /// <summary>No secret in a log line or an exception message by accident.</summary>
    public override string ToString() => $"webhook {Id} -> {Url} (secret {MaskedSecret})";
}

/// <summary>A subscription to create.</summary>
public sealed record NewWebhookSubscription(Uri Url, string Secret, IReadOnlyList<string> States, bool Enabled, string? Description)
{
    public override string ToString() => $"new webhook -> {Url}";
}

/// <summary>
/// A change to a subscription: each null member stays as it is. An empty description clears it. Deliveries already in
/// the outbox go out with the subscription as it is when they are attempted (its URL and secret then).
/// </summary>
public sealed record WebhookSubscriptionChange(Uri? Url, string? Secret, IReadOnlyList<string>? States, bool? Enabled, string? Description)
{
    public override string ToString() => $"webhook change -> {Url?.ToString() ?? "(same url)"}";
}

/// <summary>
/// One outbox row: one state change (the event) for one subscription, with its delivery progress. The event's fields
/// are frozen when the change is recorded, so every attempt sends the same body.
/// </summary>
public sealed record WebhookDelivery(
    long Id,
    long SubscriptionId,
    Guid EventId,
    EvmAddress Account,
    string? FromState,
    string ToState,
    decimal? Health,
    IReadOnlyList<MethodHealth> Methods,
    string Reason,
    string BlockVector,
    DateTimeOffset OccurredAt,
    string Status,
    int Attempts,
    int? LastStatusCode,
    string? LastError,
    DateTimeOffset? LastAttemptAt,
    DateTimeOffset NextAttemptAt,
    DateTimeOffset? DeliveredAt,
    DateTimeOffset CreatedAt);

/// <summary>The outcome of recording an observation: whether the state changed and the outbox rows it wrote.</summary>
public sealed record RecordedChange(bool Changed, string? FromState, IReadOnlyList<long> DeliveryIds)
{
    public static RecordedChange Unchanged { get; } = new(false, null, []);
}

/// <summary>A claimed delivery: the row (attempt counted) and the subscription it goes to.</summary>
public sealed record ClaimedDelivery(WebhookDelivery Delivery, WebhookSubscription Subscription);

/// <summary>The result of one delivery attempt.</summary>
public sealed record WebhookAttempt(int? StatusCode, string? Error, bool Delivered, bool GiveUp, DateTimeOffset NextAttemptAt);

/// <summary>
/// Webhook subscriptions and their persisted outbox, in the same database as the chain store (its migrations create
/// the tables). A state change and its outbox rows commit in one transaction, so a change that is recorded is never
/// lost, whatever happens to the process before delivery.
/// </summary>
public interface IWebhookStore
{
    Task<WebhookSubscription> AddSubscriptionAsync(NewWebhookSubscription subscription, CancellationToken cancellationToken);

    Task<IReadOnlyList<WebhookSubscription>> GetSubscriptionsAsync(CancellationToken cancellationToken);

    /// <summary>Deletes the subscription and its outbox rows; false when there is none with that id.</summary>
    Task<bool> DeleteSubscriptionAsync(long id, CancellationToken cancellationToken);

    /// <summary>Applies a change to the subscription and returns it as it now is; null when there is none with that id.</summary>
    Task<WebhookSubscription?> UpdateSubscriptionAsync(long id, WebhookSubscriptionChange change, CancellationToken cancellationToken);

    /// <summary>
    /// Records the account's state when it differs from the current one (current row and history, as
    /// <see cref="IChainStore.RecordAccountStateAsync"/> does) and, in the same transaction, one pending delivery per
    /// enabled subscription that wants the new state.
    /// </summary>
    Task<RecordedChange> RecordAccountStateAsync(AccountObservation observation, Guid eventId, CancellationToken cancellationToken);

    /// <summary>Pending deliveries due at <paramref name="now"/> and not claimed by a live attempt, oldest first.</summary>
    Task<IReadOnlyList<long>> GetDueDeliveriesAsync(DateTimeOffset now, int limit, CancellationToken cancellationToken);

    /// <summary>
    /// Claims a due pending delivery for one attempt until <paramref name="lockedUntil"/> (attempts + 1); null when
    /// it is delivered, given up, not due, claimed by another attempt, or gone.
    /// </summary>
    Task<ClaimedDelivery?> TryClaimAsync(long deliveryId, DateTimeOffset now, DateTimeOffset lockedUntil, CancellationToken cancellationToken);

    /// <summary>Records the attempt's outcome and releases the claim.</summary>
    Task CompleteAttemptAsync(long deliveryId, WebhookAttempt attempt, DateTimeOffset now, CancellationToken cancellationToken);

    Task<WebhookDelivery?> GetDeliveryAsync(long deliveryId, CancellationToken cancellationToken);

    /// <summary>The newest deliveries (of one subscription, or all), newest first.</summary>
    Task<IReadOnlyList<WebhookDelivery>> GetRecentDeliveriesAsync(long? subscriptionId, int limit, CancellationToken cancellationToken);
}

/// <summary>One sample of an account's headline health, for its health-over-time chart.</summary>
public sealed record HealthSample(EvmAddress Account, DateTimeOffset At, decimal? Health, string State);

/// <summary>Sampled health per account, bounded by the sampler's policy and pruned to a retention.</summary>
public interface IHealthSampleStore
{
    /// <summary>Stores the samples in one transaction.</summary>
    Task AddSamplesAsync(IReadOnlyList<HealthSample> samples, CancellationToken cancellationToken);

    /// <summary>The newest <paramref name="limit"/> samples of the account in [since, until], oldest first.</summary>
    Task<IReadOnlyList<HealthSample>> GetSamplesAsync(EvmAddress account, DateTimeOffset? since, DateTimeOffset? until, int limit, CancellationToken cancellationToken);

    /// <summary>Deletes samples older than <paramref name="before"/>; returns how many.</summary>
    Task<long> PruneAsync(DateTimeOffset before, CancellationToken cancellationToken);
}
