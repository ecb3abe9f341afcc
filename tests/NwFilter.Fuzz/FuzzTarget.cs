using System.Diagnostics;
using CsCheck;
using NwFilter.Core.Diagnostics;

namespace NwFilter.Fuzz;

/// <summary>How long a target runs: a fixed number of iterations (the CI smoke) or a time (the fuzz task).</summary>
public sealed record FuzzBudget(long Iterations = -1, int Seconds = -1, string? Seed = null)
{
    public static FuzzBudget ForIterations(long n, string? seed = null) => new(n, -1, seed);
    public static FuzzBudget ForSeconds(int s, string? seed = null) => new(-1, s, seed);
}

/// <summary>One target's run: inputs tried, failures (each with CsCheck's reproducible seed and the cause).</summary>
public sealed record FuzzResult(string Target, long Iterations, TimeSpan Elapsed, IReadOnlyList<string> Failures,
    IReadOnlyDictionary<string, long> Known)
{
    /// <summary>Inputs that hit a crash already recorded (<see cref="FuzzTarget{T}.KnownCrash"/>), by name: counted, not stopping the run.</summary>
    public long KnownCrashes => Known.Values.Sum();

    public int Crashes => Failures.Count;
}

/// <summary>
/// A fuzz target: a structure-aware generator of inputs and the property every input must satisfy. For the readers,
/// parsers and decoders the property is: return a value or report a diagnostic (<see cref="NwFilterException"/>);
/// any other exception, an input taking longer than <see cref="TimeBound"/>, or allocating more than
/// <see cref="AllocationBound"/> is a crash.
/// </summary>
public abstract class FuzzTarget<T> : IFuzzTarget
{
    private long _iterations;
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, long> _known = new();

    /// <summary>When true, a known crash fails the run like any other (to reproduce it by its seed).</summary>
    public bool StopAtKnownCrashes { get; set; }

    /// <summary>
    /// The name of a crash already found and recorded (a skipped regression test names it) that <paramref name="crash"/>
    /// is another instance of, or null. Such inputs are counted and the run goes on, so one open bug does not hide others.
    /// </summary>
    protected virtual string? KnownCrash(Exception crash) => null;

    private void CheckCounted(T input)
    {
        try
        {
            Check(input);
        }
        catch (Exception e) when (!StopAtKnownCrashes && KnownCrash(e) is { } known)
        {
            _known.AddOrUpdate(known, 1, (_, n) => n + 1);
        }
    }

    public abstract string Name { get; }

    /// <summary>The generator of inputs.</summary>
    public abstract Gen<T> Inputs { get; }

    /// <summary>Runs one input; throws <see cref="FuzzCrash"/> (or lets any unexpected exception out) on a crash.</summary>
    protected abstract void Check(T input);

    /// <summary>Prints a failing input for the report (short: CsCheck prints it with the seed).</summary>
    protected virtual string Print(T input) => CsCheck.Check.Print(input) is { Length: > 2000 } s ? s[..2000] + "..." : CsCheck.Check.Print(input);

    /// <summary>The time one input may take (generous: the machine is shared; the documented bound is a second).</summary>
    public virtual TimeSpan TimeBound => TimeSpan.FromSeconds(5);

    /// <summary>The bytes one input may allocate: 64 MiB plus 64 bytes per input byte (the readers copy a document a few times).</summary>
    protected virtual long AllocationBound(T input) => (64L << 20) + 64L * InputSize(input);

    /// <summary>The size of an input in bytes (for the allocation bound).</summary>
    protected abstract long InputSize(T input);

    /// <summary>Runs <see cref="Check"/> under the time and allocation bounds, a diagnostic counting as success.</summary>
    protected void Guarded(T input, Action action)
    {
        Watchdog.Enter(Name, () => Print(input), TimeBound * 6);
        var before = GC.GetAllocatedBytesForCurrentThread();
        var clock = Stopwatch.StartNew();
        try
        {
            action();
        }
        catch (NwFilterException)
        {
            // A reported diagnostic: the input was refused, as it should be.
        }
        catch (NwFilter.Core.Xml.DocumentReadException)
        {
            // The bounded file reader's diagnostic (a file it refuses: invalid UTF-8, NUL, too large, not a regular file).
        }
        finally
        {
            Watchdog.Exit();
        }
        var elapsed = clock.Elapsed;
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        if (elapsed > TimeBound)
        {
            throw new FuzzCrash($"{Name}: one input took {elapsed.TotalMilliseconds:0} ms (bound {TimeBound.TotalMilliseconds:0} ms)");
        }
        if (allocated > AllocationBound(input))
        {
            throw new FuzzCrash($"{Name}: one input of {InputSize(input)} bytes allocated {allocated} bytes (bound {AllocationBound(input)})");
        }
    }

    public FuzzResult Run(FuzzBudget budget, Action<string>? log = null)
    {
        _iterations = 0;
        _known.Clear();
        var failures = new List<string>();
        var clock = Stopwatch.StartNew();
        var seed = budget.Seed;
        // CsCheck stops at the first failure (after shrinking it); a timed run goes on with fresh seeds until its time is up.
        while (true)
        {
            var remaining = budget.Seconds < 0 ? -1 : budget.Seconds - (int)clock.Elapsed.TotalSeconds;
            if (budget.Seconds >= 0 && remaining <= 0)
            {
                break;
            }
            try
            {
                Inputs.Sample(
                    input => { Interlocked.Increment(ref _iterations); CheckCounted(input); },
                    writeLine: _ => { },
                    seed: seed,
                    iter: budget.Iterations,
                    time: remaining,
                    threads: 1,
                    print: Print);
                break;
            }
            catch (Exception e)
            {
                var failure = e.InnerException is { } inner ? $"{e.Message}\n{inner}" : e.ToString();
                failures.Add(failure);
                log?.Invoke($"{Name}: FAILURE\n{failure}");
                if (budget.Seconds < 0 || seed is not null || failures.Count >= 10)
                {
                    break;
                }
            }
        }
        return new FuzzResult(Name, Interlocked.Read(ref _iterations), clock.Elapsed, failures, new Dictionary<string, long>(_known));
    }
}

/// <summary>A target without its input type, for the runner.</summary>
public interface IFuzzTarget
{
    string Name { get; }

    bool StopAtKnownCrashes { get; set; }

    FuzzResult Run(FuzzBudget budget, Action<string>? log = null);
}

/// <summary>A property violation found by a target (not an input's refusal).</summary>
public sealed class FuzzCrash(string message) : Exception(message);

/// <summary>A generator written as a function of CsCheck's random source; its size is the value's size, so shrinking keeps smaller inputs.</summary>
public sealed class GenFrom<T>(Func<PCG, T> generate, Func<T, long> size) : Gen<T>
{
    public override T Generate(PCG pcg, Size? min, out Size size1)
    {
        var value = generate(pcg);
        size1 = new Size((ulong)Math.Max(0, size(value)));
        return value;
    }
}

/// <summary>
/// Ends the process when one input hangs (a loop that never returns cannot be caught): prints the target and the
/// input, then exits with code 3, so a hang is a recorded crash and not a stuck run.
/// </summary>
public static class Watchdog
{
    private static readonly object Gate = new();
    private static string? _target;
    private static Func<string>? _input;
    private static long _deadline = long.MaxValue;
    private static Timer? _timer;

    public static void Enter(string target, Func<string> input, TimeSpan limit)
    {
        lock (Gate)
        {
            _timer ??= new Timer(_ => Tick(), null, 1000, 1000);
            _target = target;
            _input = input;
            _deadline = Environment.TickCount64 + (long)limit.TotalMilliseconds;
        }
    }

    public static void Exit()
    {
        lock (Gate)
        {
            _deadline = long.MaxValue;
        }
    }

    private static void Tick()
    {
        lock (Gate)
        {
            if (Environment.TickCount64 <= _deadline)
            {
                return;
            }
            Console.Error.WriteLine($"{_target}: HANG: one input ran past {_deadline} ms; the input:\n{_input?.Invoke()}");
            Environment.Exit(3);
        }
    }
}

/// <summary>Random helpers over CsCheck's generator.</summary>
public static class Rand
{
    public static int Int(this PCG pcg, int maxExclusive) => maxExclusive <= 0 ? 0 : (int)pcg.Next((uint)maxExclusive);

    public static int Int(this PCG pcg, int min, int maxInclusive) => min + pcg.Int(maxInclusive - min + 1);

    public static bool Chance(this PCG pcg, int percent) => pcg.Int(100) < percent;

    public static TItem Pick<TItem>(this PCG pcg, IReadOnlyList<TItem> items) => items[pcg.Int(items.Count)];

    public static byte[] Bytes(this PCG pcg, int n)
    {
        var b = new byte[n];
        for (var i = 0; i < n; i++)
        {
            b[i] = (byte)pcg.Next();
        }
        return b;
    }
}
