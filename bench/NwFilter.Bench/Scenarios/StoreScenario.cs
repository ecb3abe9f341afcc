using System.Diagnostics;
using NwFilter.Core.Store;
using NwFilter.Core.Xml;

namespace NwFilter.Bench.Scenarios;

/// <summary>
/// The filter store without PowerShell: listing a store of N test-eth0-sized filters (the first listing in the process
/// parses every file; later ones use the parsed-file cache), then defining 1,000 filters into an empty store (each a
/// lock, an atomic write with fsync, and the define-time checks).
/// </summary>
public sealed class StoreScenario : IScenario
{
    private const string Template = """
        <filter name='NAME' chain='root'>
          <uuid>UUID</uuid>
          <filterref filter='clean-traffic'/>
          <rule action='accept' direction='in' priority='500'>
            <tcp dstportstart='22'/>
          </rule>
          <rule action='accept' direction='in' priority='500'>
            <tcp dstportstart='80'/>
          </rule>
          <rule action='accept' direction='out' priority='500'>
            <icmp/>
          </rule>
          <rule action='drop' direction='inout' priority='500'>
            <all/>
          </rule>
        </filter>

        """;

    public string Name => "store";

    public string Description => "list a store of 5,000 filters (first and cached), define 1,000 filters into an empty store";

    public int Run(string[] args)
    {
        var count = args.Length > 0 && int.TryParse(args[0], out var n) ? n : 5_000;
        var root = Path.Combine(Path.GetTempPath(), "nwfilter-bench-store-" + Guid.NewGuid().ToString("N")[..8]);
        try
        {
            Console.WriteLine($"store: {count} filters; {Measure.Machine}");
            var listDir = Path.Combine(root, "list");
            Directory.CreateDirectory(listDir);
            for (var i = 0; i < count; i++)
            {
                var name = $"vm{i:D5}-eth0";
                File.WriteAllText(Path.Combine(listDir, name + ".xml"), Template.Replace("NAME", name).Replace("UUID", Guid.NewGuid().ToString()));
            }
            Thread.Sleep(FilterFileCacheSettle);

            var store = new FilterStore(listDir);
            var watch = Stopwatch.StartNew();
            var listed = store.List().Filters.Length;
            var first = watch.Elapsed;
            var cached = TimeSpan.MaxValue;
            for (var r = 0; r < 5; r++)
            {
                watch.Restart();
                listed = store.List().Filters.Length;
                cached = watch.Elapsed < cached ? watch.Elapsed : cached;
            }
            Console.WriteLine($"  list       {listed,7} filters  first {first.TotalMilliseconds,7:N1} ms  cached (best of 5) {cached.TotalMilliseconds,7:N1} ms");

            var filters = Enumerable.Range(0, 1000)
                .Select(i => NwFilterXmlReader.ReadFilter(Template.Replace("NAME", $"f{i}").Replace("  <uuid>UUID</uuid>\n", "")).Value)
                .ToList();
            var defineStore = new FilterStore(Path.Combine(root, "define"));
            var define = Measure.Run(filters.Count, i => defineStore.Define(filters[i]));
            Console.WriteLine($"  define     {define.Count,7} filters  {define.Elapsed.TotalMilliseconds,7:N1} ms  {define.MicrosecondsPerOperation,8:N0} us/filter");
            var batchStore = new FilterStore(Path.Combine(root, "batch"));
            watch.Restart();
            var batch = batchStore.DefineMany(filters);
            Console.WriteLine($"  DefineMany {batch.Length,7} filters  {watch.Elapsed.TotalMilliseconds,7:N1} ms (one lock)");
            return 0;
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    // Files younger than the cache's settle time (2 s) are re-read each time; a store's files are normally older.
    private static readonly TimeSpan FilterFileCacheSettle = TimeSpan.FromSeconds(2.5);
}
