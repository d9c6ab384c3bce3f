using System.Globalization;
using Nethereum.KeyStore;
using Nethereum.Signer;

namespace ChainMargin.Liquidation.Keeper;

/// <summary>
/// A private key held for signing. It prints as its address only: the key material never reaches a log line, an
/// exception message or a serialised object through this type.
/// </summary>
public sealed class SigningKey
{
    private readonly EthECKey _key;

    public SigningKey(string privateKeyHex)
    {
        try
        {
            _key = new EthECKey(privateKeyHex);
        }
        catch (Exception ex) when (ex is FormatException or ArgumentException or IndexOutOfRangeException)
        {
            // The message of the inner exception may quote the input: drop it.
            throw new FormatException("a configured private key is not 32 bytes of hex");
        }

        Address = _key.GetPublicAddress().ToLowerInvariant();
    }

    public string Address { get; }

    internal EthECKey EcKey => _key;

    public override string ToString() => "key of " + Address;
}

/// <summary>Where the keeper's keys come from.</summary>
public interface IKeeperKeySource
{
    /// <summary>The risk signer's key, or null when none is configured.</summary>
    SigningKey? RiskSigner();

    /// <summary>The keeper key of a chain, or null when none is configured.</summary>
    SigningKey? Keeper(ulong chainId);
}

/// <summary>
/// Keys from the environment (CHAINMARGIN_RISK_SIGNER_KEY, CHAINMARGIN_KEEPER_KEY_&lt;chainId&gt;) or from an encrypted
/// keystore file per chain (keeper-&lt;chainId&gt;.json in the keystore folder; password from
/// CHAINMARGIN_KEEPER_KEYSTORE_PASSWORD). The environment is read through a function so tests can give their own.
/// </summary>
public sealed class EnvironmentKeySource : IKeeperKeySource
{
    public const string RiskSignerVariable = "CHAINMARGIN_RISK_SIGNER_KEY";
    public const string KeeperVariablePrefix = "CHAINMARGIN_KEEPER_KEY_";
    public const string KeystorePasswordVariable = "CHAINMARGIN_KEEPER_KEYSTORE_PASSWORD";

    private readonly Func<string, string?> _environment;
    private readonly string? _keystoreDirectory;
    private readonly Dictionary<ulong, SigningKey?> _keepers = [];
    private readonly Lock _lock = new();
    private SigningKey? _riskSigner;
    private bool _riskSignerRead;

    public EnvironmentKeySource(Func<string, string?>? environment = null, string? keystoreDirectory = null)
    {
        _environment = environment ?? Environment.GetEnvironmentVariable;
        _keystoreDirectory = keystoreDirectory;
    }

    public SigningKey? RiskSigner()
    {
        lock (_lock)
        {
            if (!_riskSignerRead)
            {
                _riskSigner = _environment(RiskSignerVariable) is { Length: > 0 } hex ? new SigningKey(hex) : null;
                _riskSignerRead = true;
            }

            return _riskSigner;
        }
    }

    public SigningKey? Keeper(ulong chainId)
    {
        lock (_lock)
        {
            if (!_keepers.TryGetValue(chainId, out var key))
            {
                key = Load(chainId);
                _keepers[chainId] = key;
            }

            return key;
        }
    }

    private SigningKey? Load(ulong chainId)
    {
        if (_environment(KeeperVariablePrefix + chainId.ToString(CultureInfo.InvariantCulture)) is { Length: > 0 } hex)
        {
            return new SigningKey(hex);
        }

        if (_keystoreDirectory is null)
        {
            return null;
        }

        var file = Path.Combine(_keystoreDirectory, $"keeper-{chainId.ToString(CultureInfo.InvariantCulture)}.json");
        if (!File.Exists(file))
        {
            return null;
        }

        var password = _environment(KeystorePasswordVariable)
            ?? throw new InvalidOperationException($"keystore {file} needs the password in env {KeystorePasswordVariable}");
        byte[] raw;
        try
        {
            raw = new KeyStoreService().DecryptKeyStoreFromJson(password, File.ReadAllText(file));
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            throw new InvalidOperationException($"keystore {file} could not be decrypted (wrong password or a damaged file)");
        }

        return new SigningKey(Convert.ToHexString(raw));
    }
}
