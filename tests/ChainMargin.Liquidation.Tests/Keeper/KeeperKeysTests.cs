using ChainMargin.Contracts.Devnet;
using ChainMargin.Liquidation.Keeper;
using Nethereum.Hex.HexConvertors.Extensions;
using Nethereum.KeyStore;
using Nethereum.KeyStore.Model;

namespace ChainMargin.Liquidation.Tests.Keeper;

/// <summary>Keys from the environment and from an encrypted keystore file, and what errors may say.</summary>
public sealed class KeeperKeysTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("cm-keystore-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void EnvironmentKeySource_KeysFromVariablesAndKeystore_ResolveToTheirAddresses()
    {
        const string password = "correct horse battery staple";
        WriteKeystore(42, DevAccounts.Keeper.PrivateKey, password);
        var env = new Dictionary<string, string>
        {
            [EnvironmentKeySource.RiskSignerVariable] = DevAccounts.RiskSigner.PrivateKey,
            [EnvironmentKeySource.KeeperVariablePrefix + "7"] = DevAccounts.Traders[0].PrivateKey,
            [EnvironmentKeySource.KeystorePasswordVariable] = password,
        };
        var keys = new EnvironmentKeySource(name => env.GetValueOrDefault(name), _dir);

        Assert.Equal(DevAccounts.RiskSigner.Address, keys.RiskSigner()!.Address);
        Assert.Equal(DevAccounts.Traders[0].Address, keys.Keeper(7)!.Address);
        Assert.Equal(DevAccounts.Keeper.Address, keys.Keeper(42)!.Address);
        Assert.Null(keys.Keeper(43));
    }

    [Fact]
    public void EnvironmentKeySource_WrongKeystorePassword_FailsWithoutQuotingSecrets()
    {
        WriteKeystore(42, DevAccounts.Keeper.PrivateKey, "right");
        var env = new Dictionary<string, string> { [EnvironmentKeySource.KeystorePasswordVariable] = "wrong-password-x" };
        var keys = new EnvironmentKeySource(name => env.GetValueOrDefault(name), _dir);

        var error = Assert.Throws<InvalidOperationException>(() => keys.Keeper(42));
        Assert.DoesNotContain("wrong-password-x", error.ToString(), StringComparison.Ordinal);
        Assert.DoesNotContain(DevAccounts.Keeper.PrivateKey[2..], error.ToString(), StringComparison.OrdinalIgnoreCase);
    }

    private void WriteKeystore(ulong chainId, string privateKey, string password)
    {
        // PBKDF2 with few rounds keeps the test fast; the decryption path is the one scrypt files use too.
        var json = new KeyStorePbkdf2Service().EncryptAndGenerateKeyStoreAsJson(
            password, privateKey.HexToByteArray(), new Nethereum.Signer.EthECKey(privateKey).GetPublicAddress(),
            new Pbkdf2Params { Count = 1024, Dklen = 32, Prf = "hmac-sha256" });
        File.WriteAllText(Path.Combine(_dir, $"keeper-{chainId}.json"), json);
    }
}
