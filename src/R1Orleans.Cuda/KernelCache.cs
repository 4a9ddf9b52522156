using System.Security.Cryptography;
using System.Text;

namespace R1Orleans.Cuda;

/// <summary>
/// Compiled kernels on disk, keyed by (kernel name, source and options hash, device architecture, NVRTC version), so a
/// process compiles each kernel once per source change, device kind and compiler. Writes are atomic (temp file, rename).
/// </summary>
public sealed class KernelCache
{
    public KernelCache(string directory)
    {
        Directory = directory;
    }

    public string Directory { get; }

    /// <summary>$XDG_CACHE_HOME/r1orleans/kernels, else ~/.cache/r1orleans/kernels.</summary>
    public static string DefaultDirectory
    {
        get
        {
            string? xdg = Environment.GetEnvironmentVariable("XDG_CACHE_HOME");
            string root = string.IsNullOrWhiteSpace(xdg)
                ? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache")
                : xdg;
            return Path.Combine(root, "r1orleans", "kernels");
        }
    }

    /// <summary>The cache file name for one compilation: any change to the inputs gives another name.</summary>
    public static string Key(string name, string source, string architecture, string compilerVersion, IEnumerable<string> options)
    {
        string text = string.Join('\n', [name, architecture, compilerVersion, .. options, source]);
        string hash = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)))[..16];
        string stem = Path.GetFileNameWithoutExtension(name);
        return $"{stem}-{hash}-{architecture}-nvrtc{compilerVersion}.cubin";
    }

    /// <summary>Returns the cached image for <paramref name="key"/>, or compiles, stores and returns it.</summary>
    public byte[] GetOrAdd(string key, Func<byte[]> compile, out bool hit)
    {
        string path = Path.Combine(Directory, key);
        if (File.Exists(path))
        {
            byte[] cached = File.ReadAllBytes(path);
            if (cached.Length > 0)
            {
                hit = true;
                return cached;
            }
        }

        hit = false;
        byte[] image = compile();
        System.IO.Directory.CreateDirectory(Directory);
        string temp = Path.Combine(Directory, $"{key}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp");
        File.WriteAllBytes(temp, image);
        File.Move(temp, path, overwrite: true);
        return image;
    }
}
